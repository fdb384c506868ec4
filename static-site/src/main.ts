import './style.css';
import { CONFIG_HELP, readConfig, type SiteConfig } from './config';
import type { AuthClient } from './auth';
import { createApi, type ApiResult, type CallOptions } from './api';
import { safeRedirect } from './redirect';
import { callWithReverification } from './reverify';

/** The org id asked for when the user has no active organization: the API answers its 403. */
const NO_ORG_PLACEHOLDER = 'no-active-org';

const app = document.querySelector<HTMLElement>('#app')!;
const userButton = document.querySelector<HTMLDivElement>('#user-button')!;
const banner = document.querySelector<HTMLDivElement>('#banner')!;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & { className?: string } = {}, ...children: (Node | string)[]) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

function showConfigError(problems: string[]) {
  document.title = 'Configuration needed';
  app.replaceChildren(
    el('section', { className: 'card config-error' },
      el('h1', {}, 'This site needs its configuration'),
      el('p', {}, 'The sign-in site cannot start until these are fixed:'),
      el('ul', {}, ...problems.map((p) => el('li', {}, p))),
      el('div', { id: 'config-help' },
        el('p', {}, 'Where to set it:'),
        el('ul', {}, ...CONFIG_HELP.map((line) => el('li', {}, line))),
      ),
    ),
  );
}

async function createAuth(config: SiteConfig): Promise<AuthClient> {
  // Statically false in a build without VITE_DEMO_MODE=1: the demo client is not even bundled.
  if (import.meta.env.VITE_DEMO_MODE === '1') {
    const { DemoAuth } = await import('./demo-client');
    banner.hidden = false;
    banner.className = 'banner';
    return new DemoAuth();
  }
  const { ClerkAuth } = await import('./clerk-client');
  return new ClerkAuth(config.publishableKey);
}

/** The demo banner follows the signed-in state (it never says "signed in" to a signed-out visitor). */
function updateBanner(auth: AuthClient) {
  if (auth.kind !== 'demo') return;
  const user = auth.user();
  banner.textContent = user
    ? `Demo mode: signed in as ${user.name} through the local Clerk stand-in, not Clerk. Nothing here is real.`
    : 'Demo mode: signed out. Sign-in here uses the local Clerk stand-in, not Clerk. Nothing here is real.';
}

/** What a signed-out visitor sent to sign in from a page is told. */
function signInNotice(target: string) {
  const path = target.split(/[?#]/)[0];
  const text = path === '/protected' ? 'Sign in to see the protected page.' : `Sign in to continue to ${path}.`;
  return el('p', { className: 'notice', id: 'sign-in-notice', role: 'alert' }, text);
}

function resultView(label: string, r: ApiResult, note?: string) {
  // Refusals a signed-in user can act on (sign in, ask for access, verify again) are warnings.
  const cls = r.ok ? 'ok' : ['signed-out', 'forbidden', 'reverify'].includes(r.outcome) ? 'warn' : 'err';
  const view = el('div', { className: `result ${cls}` },
    el('div', { className: 'result-head' },
      el('strong', {}, label),
      el('span', { className: `status status-${cls}`, title: 'HTTP status' }, String(r.status)),
      el('span', { className: 'muted' }, `${r.ms} ms${r.retried ? ' (retried once)' : ''}`),
    ),
    el('p', { className: 'result-message' }, r.message),
    ...(note ? [el('p', { className: 'result-note' }, note)] : []),
    el('pre', { className: 'json' }, JSON.stringify(r.body, null, 2)),
  );
  view.dataset.outcome = r.outcome;
  return view;
}

/** What the user is told after a reverification prompt that did not end in a retry. */
function reverifyNote(answer: string | undefined, kind: AuthClient['kind']): string | undefined {
  if (answer === 'cancelled') return 'Verification cancelled: the action was not done.';
  if (answer === 'unsupported') {
    return kind === 'clerk'
      ? "Clerk's verification prompt is not available here: sign out and sign in again, then retry within 10 minutes."
      : 'Sign in again, then retry.';
  }
  return undefined;
}

function start(config: SiteConfig, auth: AuthClient) {
  const api = createApi({ baseUrl: config.apiUrl, getToken: () => auth.getToken() });
  const results = el('div', { className: 'results', id: 'results' });
  results.setAttribute('aria-live', 'polite');
  /** What the signed-in user may do (organization, role, plan features), above the calls. */
  const access = el('p', { className: 'muted', id: 'access-summary' });

  /** Runs a call with its button disabled; a network error is shown like an answer. */
  async function withButton(label: string, work: () => Promise<void>) {
    const button = document.activeElement as HTMLButtonElement | null;
    if (button) button.disabled = true;
    try {
      await work();
    } catch (e) {
      results.prepend(el('div', { className: 'result err' }, el('strong', {}, label), el('p', {}, `Network error: ${(e as Error).message}`)));
    } finally {
      if (button) {
        button.disabled = false;
        // Back to the button when a prompt (or disabling it) took the focus away.
        if (document.activeElement === document.body) button.focus();
      }
    }
  }

  function run(path: string, options: CallOptions = {}, note?: string) {
    const label = `${options.method ?? 'GET'} ${path}`;
    return withButton(label, async () => {
      results.prepend(resultView(label, await api(path, options), note));
    });
  }

  /** The org-admin example for the active organization (a placeholder without one: its 403 shows). */
  function orgAdmin() {
    const org = auth.activeOrganization();
    const id = org?.id ?? NO_ORG_PLACEHOLDER;
    const note = org ? undefined : 'You have no active organization, so this asks for a placeholder organization: the API refuses it.';
    return run(`/api/orgs/${encodeURIComponent(id)}/admin`, {}, note);
  }

  /** The strict-reverification example: on its 403, prompt, then retry once (Clerk's flow). */
  function sensitive() {
    const path = '/api/sensitive';
    const options: CallOptions = { method: 'POST', body: { action: 'demo' } };
    return withButton(`POST ${path}`, async () => {
      const { answer, retry } = await callWithReverification(api, path, options, (req) => auth.reverify(req),
        (first) => results.prepend(resultView(`POST ${path}`, first)));
      const note = reverifyNote(answer, auth.kind);
      if (note) results.prepend(el('div', { className: 'result warn', role: 'status' }, el('strong', {}, `POST ${path}`), el('p', { className: 'result-note' }, note)));
      if (retry) results.prepend(resultView(`POST ${path} (after verifying again)`, retry));
      access.textContent = auth.describeAccess();
    });
  }

  /** The calls; `authorization`: the three authorization examples too (the protected page). */
  function callButtons(authorization = false) {
    return el('div', { className: 'actions' },
      el('button', { className: 'btn', type: 'button', id: 'call-public', onclick: () => run('/api/public') }, 'Call /api/public'),
      el('button', { className: 'btn', type: 'button', id: 'call-protected', onclick: () => run('/api/protected') }, 'Call /api/protected'),
      ...(authorization ? [
        el('button', { className: 'btn', type: 'button', id: 'call-org-admin', onclick: () => orgAdmin() }, 'Org admin'),
        el('button', { className: 'btn', type: 'button', id: 'call-reports', onclick: () => run('/api/reports') }, 'Reports (plan feature)'),
        el('button', { className: 'btn', type: 'button', id: 'call-sensitive', onclick: () => sensitive() }, 'Sensitive action (strict reverification)'),
      ] : []),
    );
  }

  async function profileCard() {
    const card = el('section', { className: 'card profile', id: 'profile' }, el('p', { className: 'muted' }, 'Loading your profile…'));
    const r = await api('/api/me');
    if (r.ok && r.body && typeof r.body === 'object') {
      const p = r.body as { id: string; firstName?: string; lastName?: string; primaryEmail?: string; imageUrl?: string; username?: string };
      const img = el('img', { className: 'avatar', alt: '', width: 56, height: 56 });
      img.onerror = () => { img.style.visibility = 'hidden'; };
      const src = auth.avatarUrl({ id: p.id, name: [p.firstName, p.lastName].filter(Boolean).join(' ') || p.username || p.id, imageUrl: p.imageUrl });
      if (src) img.src = src;
      card.replaceChildren(
        img,
        el('div', {},
          el('h2', { id: 'profile-name' }, [p.firstName, p.lastName].filter(Boolean).join(' ') || p.username || p.id),
          el('p', { className: 'muted', id: 'profile-email' }, p.primaryEmail ?? 'no email'),
          el('p', { className: 'muted small' }, `From GET /api/me · ${r.ms} ms`),
        ),
      );
    } else {
      card.replaceChildren(el('p', {}, `Could not load your profile: ${r.message}`));
    }
    return card;
  }

  function signInView(redirectUrl: string) {
    const target = el('div', { id: 'sign-in' }) as HTMLDivElement;
    const upTarget = el('div', { id: 'sign-up', hidden: true }) as HTMLDivElement;
    const toggle = el('button', { className: 'btn btn-link', type: 'button' }, 'No account? Sign up');
    toggle.addEventListener('click', () => {
      const showUp = upTarget.hidden;
      upTarget.hidden = !showUp;
      target.hidden = showUp;
      toggle.textContent = showUp ? 'Have an account? Sign in' : 'No account? Sign up';
    });
    auth.mountSignIn(target, redirectUrl);
    auth.mountSignUp(upTarget, redirectUrl);
    return el('section', { className: 'signin' }, target, upTarget, toggle);
  }

  async function render() {
    const path = location.pathname;
    const user = auth.user();
    updateBanner(auth);
    auth.mountUserButton(userButton);
    if (!user) userButton.replaceChildren();
    results.replaceChildren();
    access.textContent = auth.describeAccess();
    if (path === '/protected') {
      if (!user) {
        // Signed out: to sign-in, and back here afterwards.
        history.replaceState({}, '', `/?redirect_url=${encodeURIComponent('/protected')}`);
        return render();
      }
      app.replaceChildren(
        el('h1', {}, 'Protected page'),
        el('p', { className: 'lead' }, `Only signed-in users see this page, ${user.name}.`),
        await profileCard(),
        access,
        callButtons(true),
        results,
      );
      return;
    }
    const redirect = new URLSearchParams(location.search).get('redirect_url');
    const target = safeRedirect(redirect, location.origin);
    if (!user) {
      app.replaceChildren(
        el('section', { className: 'hero' },
          el('h1', {}, 'Clerk sign-in in front of Rust on AWS Lambda'),
          ...(target !== '/' ? [signInNotice(target)] : []),
          el('p', { className: 'lead' }, 'Sign in, then call the public and the protected endpoint. Signed out, the protected one answers 401 with its reason.'),
        ),
        el('div', { className: 'grid' }, signInView(target), el('section', { className: 'card' }, el('h2', {}, 'Try the API'), callButtons(), results)),
      );
      return;
    }
    if (redirect !== null) {
      // Signed in with a redirect_url: go there if it is a path of this site, else home.
      history.replaceState({}, '', target);
      if (target !== '/') return render();
    }
    app.replaceChildren(
      el('h1', {}, `Welcome, ${user.name}`),
      await profileCard(),
      el('section', { className: 'card' }, el('h2', {}, 'Call the API'), callButtons(), results),
      el('p', {}, el('button', { className: 'btn btn-secondary', type: 'button', id: 'sign-out', onclick: () => void auth.signOut() }, 'Sign out')),
    );
  }

  document.addEventListener('click', (e) => {
    const a = (e.target as HTMLElement).closest('a[data-link]') as HTMLAnchorElement | null;
    if (a && a.origin === location.origin) {
      e.preventDefault();
      history.pushState({}, '', a.pathname);
      void render();
    }
  });
  window.addEventListener('popstate', () => void render());
  auth.onChange(() => void render());
  void render();
}

async function main() {
  const result = readConfig(import.meta.env);
  if (!result.ok) return showConfigError(result.problems);
  try {
    const auth = await createAuth(result.config);
    await auth.load();
    start(result.config, auth);
  } catch (e) {
    showConfigError([`Sign-in could not load: ${(e as Error).message}`]);
  }
}

void main();
