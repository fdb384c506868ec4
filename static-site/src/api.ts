// Calls to the API: a fresh token before every call, the reason of a 401 from its body, and one
// retry of a 503 (an outage of Clerk or Secrets Manager on the API side) after its Retry-After.

export interface ApiResult {
  status: number;
  ok: boolean;
  body: unknown;
  /** The `reason` of an error body, when there is one. */
  reason?: string;
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

export function createApi({ baseUrl, getToken, fetchImpl = fetch, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), now = Date.now }: ApiOptions) {
  async function once(path: string, withToken: boolean) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (withToken) {
      const token = await getToken();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    const r = await fetchImpl(`${baseUrl}${path}`, { headers });
    let body: unknown = null;
    try {
      body = await r.json();
    } catch {
      body = null;
    }
    return { r, body };
  }

  return async function call(path: string, { withToken = true } = {}): Promise<ApiResult> {
    const started = performance.now();
    let retried = false;
    let { r, body } = await once(path, withToken);
    if (r.status === 503) {
      await sleep(retryDelayMs(r.headers.get('retry-after'), now()));
      retried = true;
      ({ r, body } = await once(path, withToken));
    }
    const reason = typeof body === 'object' && body && 'reason' in body ? String((body as { reason: unknown }).reason) : undefined;
    let message = 'OK';
    if (r.status === 401) message = `Not signed in: ${reason ?? 'unauthorized'}`;
    else if (r.status === 503) message = 'The service is briefly unavailable. Please try again in a moment.';
    else if (!r.ok) message = `Error ${r.status}${reason ? `: ${reason}` : ''}`;
    return { status: r.status, ok: r.ok, body, reason, message, ms: Math.round(performance.now() - started), retried };
  };
}
