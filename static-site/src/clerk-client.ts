// The real thing: Clerk's JavaScript SDK from npm.
import { Clerk } from '@clerk/clerk-js';
import type { ActiveOrganization, AuthClient, ReverifyAnswer, SignedInUser } from './auth';
import { levelOf } from './reverify';

export class ClerkAuth implements AuthClient {
  readonly kind = 'clerk' as const;
  private clerk: Clerk;
  /** Set once the user verified again: the next token must not come from clerk-js's cache. */
  private skipCacheOnce = false;

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
    const skipCache = this.skipCacheOnce;
    this.skipCacheOnce = false;
    return (await this.clerk.session?.getToken(skipCache ? { skipCache } : undefined)) ?? null;
  }

  activeOrganization(): ActiveOrganization | null {
    const org = this.clerk.organization;
    if (!org) return null;
    const role = this.clerk.user?.organizationMemberships?.find((m) => m.organization.id === org.id)?.role;
    return { id: org.id, name: org.name, role };
  }

  describeAccess(): string {
    const org = this.activeOrganization();
    if (!org) return 'No active organization: choose one in your account to act for it.';
    return `Active organization: ${org.name}${org.role ? ` (${org.role})` : ''}.`;
  }

  /**
   * Clerk's own verification prompt. clerk-js has no public vanilla-JS entry point for it: its
   * React hook useReverification() opens it through `__internal_openReverification`, so this does
   * the same when that exists, and otherwise says the user must sign in again.
   */
  reverify(requirement: unknown): Promise<ReverifyAnswer> {
    const open = this.clerk.__internal_openReverification;
    if (typeof open !== 'function') return Promise.resolve('unsupported');
    return new Promise((resolve) => {
      open.call(this.clerk, {
        level: levelOf(requirement),
        afterVerification: () => {
          this.skipCacheOnce = true;
          resolve('verified');
        },
        afterVerificationCancelled: () => resolve('cancelled'),
      });
    });
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
