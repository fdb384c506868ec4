// The real thing: Clerk's JavaScript SDK from npm.
import { Clerk } from '@clerk/clerk-js';
import type { AuthClient, SignedInUser } from './auth';

export class ClerkAuth implements AuthClient {
  readonly kind = 'clerk' as const;
  private clerk: Clerk;

  constructor(publishableKey: string) {
    this.clerk = new Clerk(publishableKey);
  }

  async load(): Promise<void> {
    await this.clerk.load();
  }

  user(): SignedInUser | null {
    const u = this.clerk.user;
    if (!u) return null;
    const name = u.fullName || u.username || u.primaryEmailAddress?.emailAddress || u.id;
    return { id: u.id, name, imageUrl: u.imageUrl };
  }

  avatarUrl(user: SignedInUser): string | undefined {
    return user.imageUrl;
  }

  async getToken(): Promise<string | null> {
    return (await this.clerk.session?.getToken()) ?? null;
  }

  mountSignIn(el: HTMLDivElement, redirectUrl: string): void {
    this.clerk.mountSignIn(el, { forceRedirectUrl: redirectUrl, signUpForceRedirectUrl: redirectUrl });
  }

  mountSignUp(el: HTMLDivElement, redirectUrl: string): void {
    this.clerk.mountSignUp(el, { forceRedirectUrl: redirectUrl, signInForceRedirectUrl: redirectUrl });
  }

  mountUserButton(el: HTMLDivElement): void {
    this.clerk.mountUserButton(el);
  }

  async signOut(): Promise<void> {
    await this.clerk.signOut();
  }

  onChange(listener: () => void): void {
    this.clerk.addListener(() => listener());
  }
}
