// The one interface the pages use, whether Clerk or the local demo stand-in is behind it.

export interface SignedInUser {
  id: string;
  name: string;
  imageUrl?: string;
}

/** The organization a session acts in (Clerk's active organization). */
export interface ActiveOrganization {
  id: string;
  name: string;
  /** The user's role in it (`org:admin`), when known. */
  role?: string;
}

/** How a request to verify again ended. */
export type ReverifyAnswer =
  | 'verified' // verified: the call may be retried once
  | 'cancelled' // the user closed the prompt
  | 'unsupported'; // no prompt available: the user must sign in again

export interface AuthClient {
  /** Which implementation this is (shown in the UI). */
  readonly kind: 'clerk' | 'demo';
  load(): Promise<void>;
  user(): SignedInUser | null;
  /** A fresh session token, or null when signed out. Called right before every API call. */
  getToken(): Promise<string | null>;
  /** The signed-in user's active organization, or null when they act as themselves. */
  activeOrganization(): ActiveOrganization | null;
  /** What the signed-in user may do, in a sentence (organization, role, plan features). */
  describeAccess(): string;
  /**
   * Asks the user to verify again for `requirement` (a 403 reverification-error's
   * `metadata.reverification`); resolves once they did, cancelled, or cannot here.
   */
  reverify(requirement: unknown): Promise<ReverifyAnswer>;
  mountSignIn(el: HTMLDivElement, redirectUrl: string): void;
  mountSignUp(el: HTMLDivElement, redirectUrl: string): void;
  mountUserButton(el: HTMLDivElement): void;
  signOut(): Promise<void>;
  /** The picture to show for a user: Clerk's image, or in demo mode one drawn locally (offline). */
  avatarUrl(user: SignedInUser): string | undefined;
  /** Called whenever the signed-in state may have changed. */
  onChange(listener: () => void): void;
}
