// Demo mode only (the local run with the Clerk stand-in): choose a demo user, get tokens minted
// by the stand-in. Never part of a build without VITE_DEMO_MODE=1.
import { describeRequirement } from './api';
import type { ActiveOrganization, AuthClient, ReverifyAnswer, SignedInUser } from './auth';

const STORAGE_KEY = 'demo-user';
/** When the demo user last verified again (ms since the epoch), per user. */
const REVERIFIED_KEY = 'demo-reverified-at:';
export const DEMO_MARKER = 'demo-stand-in-client';

interface DemoUser {
  id: string;
  firstName: string;
  lastName: string;
  imageUrl?: string;
  /** What the stand-in mints into this user's tokens (GET /users). */
  organization?: { id: string; slug: string; name: string; role: string };
  features?: string[];
  plans?: string[];
  firstFactorAgeMinutes?: number;
}

/** "Alice Anders: admin of Acme, plan pro with the feature reports." from the stand-in's users list. */
export function describeDemoUser(u: DemoUser): string {
  const name = `${u.firstName} ${u.lastName}`;
  const org = u.organization;
  const parts = [org ? `${org.role.replace(/^org:/, '')} of ${org.name} (${org.id})` : 'no organization'];
  const features = u.features ?? [];
  const plans = u.plans ?? [];
  if (plans.length || features.length) {
    const plan = plans.length ? `${plans.join(', ')} plan` : 'a plan';
    parts.push(features.length ? `${plan} with the feature${features.length > 1 ? 's' : ''} ${features.join(', ')}` : plan);
  } else {
    parts.push('no plan features');
  }
  return `${name}: ${parts.join('; ')}.`;
}

const AVATAR_COLORS = ['#5b3df5', '#0f7b3f', '#a15c00', '#b3261e', '#1f6feb', '#8250df'];

/**
 * The demo user's picture, drawn here: an SVG data URI with the initials. The stand-in's users
 * point at img.clerk.com, which a local run cannot reach (a blank gap offline) and should not
 * contact; demo mode stays on localhost.
 */
export function demoAvatar(user: { id: string; name: string }): string {
  // The first letter or digit of the first two words: nothing that could be markup.
  const initials = user.name.split(/\s+/).map((w) => /[\p{L}\p{N}]/u.exec(w)?.[0] ?? '').filter(Boolean).slice(0, 2).join('').toUpperCase() || '?';
  let hash = 0;
  for (const c of user.id) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  const bg = AVATAR_COLORS[hash % AVATAR_COLORS.length];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="112" height="112" viewBox="0 0 112 112">` +
    `<rect width="112" height="112" fill="${bg}"/>` +
    `<text x="56" y="56" dy=".35em" text-anchor="middle" font-family="system-ui,sans-serif" font-size="44" font-weight="600" fill="#fff">` +
    `${initials}</text></svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

export class DemoAuth implements AuthClient {
  readonly kind = 'demo' as const;
  private users: DemoUser[] = [];
  private listeners: Array<() => void> = [];

  /** `adminBase`: the stand-in's admin API (proxied by the dev server at /demo-admin). */
  constructor(private adminBase = '/demo-admin') {}

  async load(): Promise<void> {
    const r = await fetch(`${this.adminBase}/users`);
    if (!r.ok) throw new Error(`the Clerk stand-in answered ${r.status}`);
    this.users = (await r.json()).users;
  }

  private current(): DemoUser | null {
    const id = sessionStorage.getItem(STORAGE_KEY);
    return this.users.find((u) => u.id === id) ?? null;
  }

  user(): SignedInUser | null {
    const u = this.current();
    if (!u) return null;
    const name = `${u.firstName} ${u.lastName}`;
    return { id: u.id, name, imageUrl: demoAvatar({ id: u.id, name }) };
  }

  avatarUrl(user: SignedInUser): string {
    return demoAvatar(user);
  }

  async getToken(): Promise<string | null> {
    const u = this.current();
    if (!u) return null;
    const request: Record<string, unknown> = { sub: u.id, azp: window.location.origin };
    // The stand-in mints the user's own claims; after "Verify again" the token says how long ago.
    const at = Number(sessionStorage.getItem(REVERIFIED_KEY + u.id));
    if (at > 0) request.reverified_secs_ago = Math.max(0, Math.floor((Date.now() - at) / 1000));
    const r = await fetch(`${this.adminBase}/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    if (!r.ok) throw new Error(`the Clerk stand-in answered ${r.status}`);
    return (await r.json()).token;
  }

  activeOrganization(): ActiveOrganization | null {
    const org = this.current()?.organization;
    return org ? { id: org.id, name: org.name, role: org.role } : null;
  }

  describeAccess(): string {
    const u = this.current();
    if (!u) return 'Signed out.';
    const age = u.firstFactorAgeMinutes;
    const at = Number(sessionStorage.getItem(REVERIFIED_KEY + u.id));
    const verified = at > 0 ? 'Verified again in this tab.' : age !== undefined ? `Last verified ${age} minutes ago.` : '';
    return `${describeDemoUser(u)} ${verified}`.trim();
  }

  /** Demo mode's stand-in for Clerk's verification prompt: one button instead of a password. */
  reverify(requirement: unknown): Promise<ReverifyAnswer> {
    const u = this.current();
    if (!u) return Promise.resolve('unsupported');
    return new Promise((resolve) => {
      const dialog = document.createElement('dialog');
      dialog.id = 'reverify-dialog';
      dialog.className = 'card dialog';
      dialog.dataset.demo = DEMO_MARKER;
      dialog.setAttribute('aria-labelledby', 'reverify-title');
      dialog.setAttribute('aria-describedby', 'reverify-text');
      const h = document.createElement('h2');
      h.id = 'reverify-title';
      h.textContent = 'Verify it is you';
      const p = document.createElement('p');
      p.id = 'reverify-text';
      p.textContent = `This action needs a recent verification (${describeRequirement(requirement)}): you verified too long ago. ` +
        'Clerk would ask for your password or a code here; in demo mode one click stands for it.';
      const actions = document.createElement('div');
      actions.className = 'actions';
      const confirm = document.createElement('button');
      confirm.type = 'button';
      confirm.className = 'btn';
      confirm.id = 'reverify-confirm';
      confirm.textContent = 'Verify again';
      confirm.autofocus = true;
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'btn btn-secondary';
      cancel.id = 'reverify-cancel';
      cancel.textContent = 'Cancel';
      let answer: ReverifyAnswer = 'cancelled';
      confirm.addEventListener('click', () => {
        sessionStorage.setItem(REVERIFIED_KEY + u.id, String(Date.now()));
        answer = 'verified';
        dialog.close();
      });
      cancel.addEventListener('click', () => dialog.close());
      // Closed by a button or by Escape: either way, once.
      dialog.addEventListener('close', () => {
        dialog.remove();
        resolve(answer);
      });
      actions.append(confirm, cancel);
      dialog.append(h, p, actions);
      document.body.append(dialog);
      dialog.showModal();
    });
  }

  private chooser(el: HTMLDivElement, redirectUrl: string, title: string): void {
    el.replaceChildren();
    const card = document.createElement('div');
    card.className = 'card demo-signin';
    card.dataset.demo = DEMO_MARKER;
    const h = document.createElement('h2');
    h.textContent = title;
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'Demo mode: pick a demo user. Tokens come from the local Clerk stand-in.';
    const list = document.createElement('div');
    list.className = 'user-list';
    for (const u of this.users) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn btn-secondary';
      b.textContent = `Continue as ${u.firstName} ${u.lastName}`;
      b.addEventListener('click', () => {
        sessionStorage.setItem(STORAGE_KEY, u.id);
        this.emit();
        history.pushState({}, '', redirectUrl);
        window.dispatchEvent(new PopStateEvent('popstate'));
      });
      list.append(b);
    }
    card.append(h, p, list);
    el.append(card);
  }

  mountSignIn(el: HTMLDivElement, redirectUrl: string): void {
    this.chooser(el, redirectUrl, 'Sign in');
  }

  mountSignUp(el: HTMLDivElement, redirectUrl: string): void {
    this.chooser(el, redirectUrl, 'Create an account');
  }

  mountUserButton(el: HTMLDivElement): void {
    el.replaceChildren();
    const u = this.user();
    if (!u) return;
    const wrap = document.createElement('div');
    wrap.className = 'user-chip';
    const name = document.createElement('span');
    name.textContent = u.name;
    const out = document.createElement('button');
    out.type = 'button';
    out.className = 'btn btn-link';
    out.textContent = 'Sign out';
    out.addEventListener('click', () => void this.signOut());
    wrap.append(name, out);
    el.append(wrap);
  }

  async signOut(): Promise<void> {
    const id = sessionStorage.getItem(STORAGE_KEY);
    if (id) sessionStorage.removeItem(REVERIFIED_KEY + id);
    sessionStorage.removeItem(STORAGE_KEY);
    this.emit();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}
