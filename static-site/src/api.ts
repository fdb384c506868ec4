// Calls to the API: a fresh token before every call, the reason of a 401 or 403 from its body, and
// one retry of a 503 (an outage of Clerk or Secrets Manager on the API side) after its Retry-After.

/** What an answer means for the user. */
export type Outcome =
  | 'ok' // 2xx
  | 'signed-out' // 401: no acceptable session
  | 'forbidden' // 403: signed in, not allowed
  | 'reverify' // 403 reverification-error: allowed once the user verifies again
  | 'unavailable' // 503 after the retry
  | 'error'; // anything else

export interface ApiResult {
  method: string;
  path: string;
  status: number;
  ok: boolean;
  outcome: Outcome;
  body: unknown;
  /** The `reason` of an error body, when there is one. */
  reason?: string;
  /** For `reverify`: what Clerk's client must ask (`metadata.reverification`: a preset name or `{level, afterMinutes}`). */
  reverification?: unknown;
  /** What to tell the user. */
  message: string;
  ms: number;
  retried: boolean;
}

export interface ApiOptions {
  baseUrl: string;
  getToken: () => Promise<string | null>;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** The clock, for a Retry-After given as a date. */
  now?: () => number;
}

export interface CallOptions {
  method?: 'GET' | 'POST';
  /** A POST's JSON body (default `{}`). */
  body?: unknown;
  withToken?: boolean;
}

/** The longest the client waits before its one retry, whatever Retry-After says. */
export const MAX_RETRY_WAIT_MS = 10_000;
/** The wait when a 503 has no (readable) Retry-After. */
export const DEFAULT_RETRY_WAIT_MS = 1000;

/**
 * How long to wait for a Retry-After value (RFC 9110: delay-seconds or an HTTP date), bounded
 * to [0, MAX_RETRY_WAIT_MS]. The API sends it with its 503s; CORS exposes it to the site.
 */
export function retryDelayMs(header: string | null, now: number = Date.now()): number {
  const value = header?.trim() ?? '';
  let ms = DEFAULT_RETRY_WAIT_MS;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else if (/[a-z]/i.test(value) && !Number.isNaN(Date.parse(value))) ms = Date.parse(value) - now;
  return Math.min(MAX_RETRY_WAIT_MS, Math.max(0, ms));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A reverification requirement as Clerk's SDKs read it (`isReverificationHint` of
 * @clerk/shared): `clerk_error` of type `forbidden`, reason `reverification-error`. Only a 403
 * counts: a 200 that happens to carry such an object is an answer, not a prompt.
 */
export function reverificationOf(status: number, body: unknown): { needed: boolean; requirement?: unknown } {
  if (status !== 403 || !isObject(body) || !isObject(body.clerk_error)) return { needed: false };
  const e = body.clerk_error;
  if (e.type !== 'forbidden' || e.reason !== 'reverification-error') return { needed: false };
  return { needed: true, requirement: isObject(e.metadata) ? e.metadata.reverification : undefined };
}

/** The requirement for people: `strict`, or `second_factor within 10 minutes`. */
export function describeRequirement(requirement: unknown): string {
  if (typeof requirement === 'string' && requirement) return requirement;
  if (isObject(requirement) && typeof requirement.level === 'string' && typeof requirement.afterMinutes === 'number') {
    return `${requirement.level} within ${requirement.afterMinutes} minutes`;
  }
  return 'a recent verification';
}

/** Reads status and body into what the page shows. */
export function classify(status: number, body: unknown): Pick<ApiResult, 'outcome' | 'reason' | 'reverification' | 'message'> {
  const reason = isObject(body) && 'reason' in body ? String(body.reason) : undefined;
  if (status >= 200 && status < 300) return { outcome: 'ok', reason, message: 'OK' };
  if (status === 401) return { outcome: 'signed-out', reason, message: `Not signed in: ${reason ?? 'unauthorized'}` };
  if (status === 403) {
    const r = reverificationOf(status, body);
    if (r.needed) {
      return {
        outcome: 'reverify',
        reason: reason ?? 'reverification-error',
        reverification: r.requirement,
        message: `You are signed in, but this action needs you to verify again (${describeRequirement(r.requirement)}).`,
      };
    }
    return { outcome: 'forbidden', reason, message: `You are signed in but not allowed to do this (reason: ${reason ?? 'forbidden'}).` };
  }
  if (status === 503) return { outcome: 'unavailable', reason, message: 'The service is briefly unavailable. Please try again in a moment.' };
  return { outcome: 'error', reason, message: `Error ${status}${reason ? `: ${reason}` : ''}` };
}

export type Api = (path: string, options?: CallOptions) => Promise<ApiResult>;

/** 503 reasons only authentication gives (the signing keys could not be had): no handler ran. */
export const KEY_LOADING_503 = new Set(['jwk-remote-failed-to-load', 'jwk-failed-to-resolve']);

function reasonOf(body: unknown): string | undefined {
  return typeof body === 'object' && body && 'reason' in body ? String((body as { reason: unknown }).reason) : undefined;
}

export function createApi({ baseUrl, getToken, fetchImpl = fetch, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), now = Date.now }: ApiOptions): Api {
  async function once(path: string, method: 'GET' | 'POST', payload: unknown, withToken: boolean) {
    const headers: Record<string, string> = { accept: 'application/json' };
    // A fresh token for each attempt: the retry must not send one that expired while waiting.
    if (withToken) {
      const token = await getToken();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    const init: RequestInit = { method, headers };
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(payload ?? {});
    }
    const r = await fetchImpl(`${baseUrl}${path}`, init);
    let body: unknown = null;
    try {
      body = await r.json();
    } catch {
      body = null;
    }
    return { r, body };
  }

  return async function call(path, { method = 'GET', body: payload, withToken = true } = {}) {
    const started = performance.now();
    let retried = false;
    let { r, body } = await once(path, method, payload, withToken);
    // A GET is retried after any 503. A POST only when the 503 came from loading the signing
    // keys, before any handler ran: a handler's own 503 may follow a side effect.
    if (r.status === 503 && (method === 'GET' || KEY_LOADING_503.has(reasonOf(body) ?? ''))) {
      await sleep(retryDelayMs(r.headers.get('retry-after'), now()));
      retried = true;
      ({ r, body } = await once(path, method, payload, withToken));
    }
    return { method, path, status: r.status, ok: r.ok, body, ...classify(r.status, body), ms: Math.round(performance.now() - started), retried };
  };
}
