// Demo mode only (the local run with the Clerk stand-in): choose a demo user, get tokens minted
// by the stand-in. Never part of a build without VITE_DEMO_MODE=1.
import type { AuthClient, SignedInUser } from './auth';

const STORAGE_KEY = 'demo-user';
export const DEMO_MARKER = 'demo-stand-in-client';

interface DemoUser {
  id: string;
  firstName: string;
  lastName: string;
  imageUrl?: string;
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
    const r = await fetch(`${this.adminBase}/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: u.id, azp: window.location.origin }),
    });
    if (!r.ok) throw new Error(`the Clerk stand-in answered ${r.status}`);
    return (await r.json()).token;
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
