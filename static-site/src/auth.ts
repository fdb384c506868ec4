// The one interface the pages use, whether Clerk or the local demo stand-in is behind it.

export interface SignedInUser {
  id: string;
  name: string;
  imageUrl?: string;
}

export interface AuthClient {
  /** Which implementation this is (shown in the UI). */
  readonly kind: 'clerk' | 'demo';
  load(): Promise<void>;
  user(): SignedInUser | null;
  /** A fresh session token, or null when signed out. Called right before every API call. */
  getToken(): Promise<string | null>;
  mountSignIn(el: HTMLDivElement, redirectUrl: string): void;
  mountSignUp(el: HTMLDivElement, redirectUrl: string): void;
  mountUserButton(el: HTMLDivElement): void;
  signOut(): Promise<void>;
  /** The picture to show for a user: Clerk's image, or in demo mode one drawn locally (offline). */
  avatarUrl(user: SignedInUser): string | undefined;
  /** Called whenever the signed-in state may have changed. */
  onChange(listener: () => void): void;
}
