// Site configuration, read from Vite's build-time environment and validated. A missing or
// malformed value gives a list of problems that the page shows, never a blank screen.

export interface SiteConfig {
  publishableKey: string;
  /** The Frontend API host the publishable key encodes. */
  frontendApi: string;
  /** Base URL of the API; empty for the same origin (the dev server proxies /api). */
  apiUrl: string;
  /** The local run's Clerk stand-in instead of Clerk. */
  demo: boolean;
}

/**
 * Where the configuration is set, as the page says it. `make dev` (scripts/dev.sh) reads the
 * repository's root .env and hands its CLERK_PUBLISHABLE_KEY to Vite as VITE_CLERK_PUBLISHABLE_KEY;
 * run alone, Vite reads VITE_* from its environment when it starts.
 */
export const CONFIG_HELP: readonly string[] = [
  'For make dev: CLERK_PUBLISHABLE_KEY=pk_test_… in the .env at the root of the repository, with CLERK_SECRET_KEY=sk_test_… (without both, make dev runs in demo mode). Then run make dev again.',
  'For the site alone: VITE_CLERK_PUBLISHABLE_KEY=pk_test_… (and VITE_API_URL, the API\'s base URL) in the environment of npm run dev or npm run build in static-site/. Then start it again. scripts/deploy-site.sh sets both for a deploy.',
];

export type ConfigResult = { ok: true; config: SiteConfig } | { ok: false; problems: string[] };

export interface ConfigEnv {
  VITE_CLERK_PUBLISHABLE_KEY?: string;
  VITE_API_URL?: string;
  VITE_DEMO_MODE?: string;
}

function decodeBase64(s: string): string | null {
  try {
    const std = s.replace(/-/g, '+').replace(/_/g, '/');
    return atob(std + '='.repeat((4 - (std.length % 4)) % 4));
  } catch {
    return null;
  }
}

/** The Frontend API host of a publishable key, or why it is not one. */
export function parsePublishableKey(raw: string): { frontendApi: string } | { error: string } {
  const key = raw.trim();
  if (/^sk_(test|live)_/.test(key)) {
    return { error: 'this is a secret key (sk_…): it must never be in the site. Use the publishable key (pk_…).' };
  }
  const m = /^pk_(test|live)_(.+)$/.exec(key);
  if (!m) return { error: 'must start with pk_test_ or pk_live_' };
  const decoded = decodeBase64(m[2]);
  if (decoded === null || !decoded.endsWith('$')) return { error: 'is not a valid Clerk publishable key' };
  const host = decoded.slice(0, -1);
  if (!host.includes('.') || host.includes('$') || !/^[A-Za-z0-9.:-]+$/.test(host)) {
    return { error: 'is not a valid Clerk publishable key' };
  }
  return { frontendApi: host };
}

export function readConfig(env: ConfigEnv): ConfigResult {
  const problems: string[] = [];
  const pk = env.VITE_CLERK_PUBLISHABLE_KEY?.trim() ?? '';
  let frontendApi = '';
  if (!pk) {
    problems.push('VITE_CLERK_PUBLISHABLE_KEY is not set. Copy the publishable key (pk_test_… or pk_live_…) from the Clerk dashboard, API keys.');
  } else {
    const parsed = parsePublishableKey(pk);
    if ('error' in parsed) problems.push(`VITE_CLERK_PUBLISHABLE_KEY ${parsed.error}`);
    else frontendApi = parsed.frontendApi;
  }
  const apiUrl = (env.VITE_API_URL ?? '').trim().replace(/\/+$/, '');
  if (apiUrl && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(apiUrl)) {
    problems.push(`VITE_API_URL must be an absolute http(s) URL such as https://abc123.execute-api.us-east-1.amazonaws.com (got "${apiUrl}").`);
  }
  if (problems.length) return { ok: false, problems };
  return { ok: true, config: { publishableKey: pk, frontendApi, apiUrl, demo: env.VITE_DEMO_MODE === '1' } };
}
