import { describe, expect, it, vi } from 'vitest';
import { classify, createApi, describeRequirement, reverificationOf } from '../../src/api';

function response(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

describe('api client', () => {
  it('gets a fresh token for every call and sends it as a bearer token', async () => {
    let n = 0;
    const getToken = vi.fn(async () => `token-${++n}`);
    const fetchImpl = vi.fn(async () => response(200, { userId: 'user_1' }));
    const call = createApi({ baseUrl: 'https://api.example.com', getToken, fetchImpl });
    await call('/api/protected');
    await call('/api/protected');
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(fetchImpl.mock.calls.map((c) => (c[1] as RequestInit).headers)).toEqual([
      { accept: 'application/json', authorization: 'Bearer token-1' },
      { accept: 'application/json', authorization: 'Bearer token-2' },
    ]);
    expect(fetchImpl.mock.calls[0][0]).toBe('https://api.example.com/api/protected');
  });

  it('sends no header when signed out', async () => {
    const fetchImpl = vi.fn(async () => response(401, { reason: 'session-token-missing' }));
    const r = await createApi({ baseUrl: '', getToken: async () => null, fetchImpl })('/api/protected');
    expect((fetchImpl.mock.calls[0][1] as RequestInit).headers).toEqual({ accept: 'application/json' });
    expect(r.status).toBe(401);
    expect(r.reason).toBe('session-token-missing');
    expect(r.message).toBe('Not signed in: session-token-missing');
  });

  it('retries a 503 once after Retry-After, then reports', async () => {
    const sleep = vi.fn(async () => {});
    const fetchImpl = vi
      .fn()
      .mockResolvedValueOnce(response(503, { reason: 'jwk-remote-failed-to-load' }, { 'retry-after': '1' }))
      .mockResolvedValueOnce(response(200, { ok: true }));
    const r = await createApi({ baseUrl: '', getToken: async () => 't', fetchImpl, sleep })('/api/protected');
    expect(fetchImpl).toHaveBeenCalledTimes(2);
    expect(sleep).toHaveBeenCalledWith(1000);
    expect(r).toMatchObject({ status: 200, ok: true, retried: true });
  });

  it('says the service is briefly unavailable when the retry fails too', async () => {
    const fetchImpl = vi.fn(async () => response(503, { reason: 'secret-unavailable' }, { 'retry-after': '3' }));
    const sleep = vi.fn(async () => {});
    const r = await createApi({ baseUrl: '', getToken: async () => 't', fetchImpl, sleep })('/api/me');
    expect(fetchImpl).toHaveBeenCalledTimes(2);
    expect(sleep).toHaveBeenCalledWith(3000);
    expect(r.message).toMatch(/briefly unavailable/);
    expect(r.retried).toBe(true);
  });

  it.each([
    ['5', 5000],
    ['10', 10000],
    ['0', 0],
    ['30', 10000], // bounded: at most 10 s
    ['86400', 10000],
    [null, 1000], // none: one second
    ['soon', 1000], // unreadable: one second
    ['-5', 1000],
    ['1.5', 1000],
  ])('waits what Retry-After %j says, at most 10 s (%i ms)', async (header, ms) => {
    const sleep = vi.fn(async () => {});
    const fetchImpl = vi
      .fn()
      .mockResolvedValueOnce(response(503, { reason: 'jwk-remote-failed-to-load' }, header === null ? {} : { 'retry-after': header }))
      .mockResolvedValueOnce(response(200, { ok: true }));
    await createApi({ baseUrl: '', getToken: async () => 't', fetchImpl, sleep })('/api/protected');
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(sleep).toHaveBeenCalledWith(ms);
  });

  it('reads Retry-After as an HTTP date too', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const sleep = vi.fn(async () => {});
    const fetchImpl = vi
      .fn()
      .mockResolvedValueOnce(response(503, {}, { 'retry-after': new Date(now + 4000).toUTCString() }))
      .mockResolvedValueOnce(response(200, { ok: true }));
    await createApi({ baseUrl: '', getToken: async () => 't', fetchImpl, sleep, now: () => now })('/api/protected');
    expect(sleep).toHaveBeenCalledWith(4000);
  });

  it('does not retry anything but a 503', async () => {
    const sleep = vi.fn(async () => {});
    const fetchImpl = vi.fn(async () => response(500, { reason: 'internal' }, { 'retry-after': '1' }));
    const r = await createApi({ baseUrl: '', getToken: async () => 't', fetchImpl, sleep })('/api/public');
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    expect(sleep).not.toHaveBeenCalled();
    expect(r.retried).toBe(false);
  });

  it('POSTs JSON with the token, a content type and the body', async () => {
    const fetchImpl = vi.fn(async () => response(200, { done: true }));
    const r = await createApi({ baseUrl: 'https://api.example.com', getToken: async () => 'tok', fetchImpl })('/api/sensitive', { method: 'POST', body: { action: 'demo' } });
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('https://api.example.com/api/sensitive');
    expect(init.method).toBe('POST');
    expect(init.headers).toEqual({ accept: 'application/json', authorization: 'Bearer tok', 'content-type': 'application/json' });
    expect(init.body).toBe('{"action":"demo"}');
    expect(r).toMatchObject({ method: 'POST', path: '/api/sensitive', status: 200, outcome: 'ok' });
  });

  it('POSTs an empty JSON object when given no body, and GETs have none', async () => {
    const fetchImpl = vi.fn(async () => response(200, {}));
    const call = createApi({ baseUrl: '', getToken: async () => 't', fetchImpl });
    await call('/api/sensitive', { method: 'POST' });
    await call('/api/reports');
    const inits = fetchImpl.mock.calls.map((c) => (c as unknown as [string, RequestInit])[1]);
    expect(inits[0].body).toBe('{}');
    expect(inits[1]).toEqual({ method: 'GET', headers: { accept: 'application/json', authorization: 'Bearer t' } });
  });

  it('does not repeat a POST whose 503 may have come from its handler', async () => {
    const sleep = vi.fn(async () => {});
    for (const reason of ['secret-unavailable', 'clerk-unavailable', 'storage-unavailable', undefined]) {
      const fetchImpl = vi.fn(async () => response(503, reason ? { reason } : {}, { 'retry-after': '2' }));
      const r = await createApi({ baseUrl: '', getToken: async () => 't', fetchImpl, sleep })('/api/sensitive', { method: 'POST', body: {} });
      expect(fetchImpl).toHaveBeenCalledTimes(1);
      expect(r).toMatchObject({ status: 503, outcome: 'unavailable', retried: false });
    }
    expect(sleep).not.toHaveBeenCalled();
  });

  it('retries a POST answered 503 while the keys were loading, with a fresh token and the same body', async () => {
    let n = 0;
    const sleep = vi.fn(async () => {});
    const fetchImpl = vi
      .fn()
      .mockResolvedValueOnce(response(503, { reason: 'jwk-remote-failed-to-load' }, { 'retry-after': '2' }))
      .mockResolvedValueOnce(response(200, { done: true }));
    const r = await createApi({ baseUrl: '', getToken: async () => `t${++n}`, fetchImpl, sleep })('/api/sensitive', { method: 'POST', body: { a: 1 } });
    expect(sleep).toHaveBeenCalledWith(2000);
    const inits = fetchImpl.mock.calls.map((c) => c[1] as RequestInit);
    expect(inits.map((i) => [i.method, (i.headers as Record<string, string>).authorization, i.body])).toEqual([
      ['POST', 'Bearer t1', '{"a":1}'],
      ['POST', 'Bearer t2', '{"a":1}'],
    ]);
    expect(r).toMatchObject({ status: 200, outcome: 'ok', retried: true });
  });

  it('tells a 403 forbidden apart from a 401: signed in, not allowed, with the reason', async () => {
    const fetchImpl = vi.fn(async () => response(403, { error: 'forbidden', reason: 'forbidden', message: 'Signed in, but not allowed to do this.' }));
    const r = await createApi({ baseUrl: '', getToken: async () => 't', fetchImpl })('/api/reports');
    expect(r).toMatchObject({ status: 403, ok: false, outcome: 'forbidden', reason: 'forbidden' });
    expect(r.message).toBe('You are signed in but not allowed to do this (reason: forbidden).');
    expect(r.reverification).toBeUndefined();
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it("reads Clerk's reverification body as a prompt, with its requirement", async () => {
    const body = {
      error: 'forbidden', reason: 'reverification-error', message: 'Verify again.',
      clerk_error: { type: 'forbidden', reason: 'reverification-error', metadata: { reverification: 'strict' } },
    };
    const fetchImpl = vi.fn(async () => response(403, body));
    const r = await createApi({ baseUrl: '', getToken: async () => 't', fetchImpl })('/api/sensitive', { method: 'POST' });
    expect(r).toMatchObject({ status: 403, outcome: 'reverify', reason: 'reverification-error', reverification: 'strict' });
    expect(r.message).toBe('You are signed in, but this action needs you to verify again (strict).');
    // Clerk's own shape alone (what @clerk/shared's reverificationError writes) is enough.
    expect(classify(403, { clerk_error: body.clerk_error })).toMatchObject({ outcome: 'reverify', reason: 'reverification-error' });
  });

  it.each([
    ['a 200 carrying the shape', 200, { clerk_error: { type: 'forbidden', reason: 'reverification-error' } }],
    ['a 401 carrying the shape', 401, { clerk_error: { type: 'forbidden', reason: 'reverification-error' } }],
    ['another clerk_error type', 403, { clerk_error: { type: 'unauthorized', reason: 'reverification-error' } }],
    ['another clerk_error reason', 403, { clerk_error: { type: 'forbidden', reason: 'other' } }],
    ['our reason without clerk_error', 403, { reason: 'reverification-error' }],
    ['clerk_error not an object', 403, { clerk_error: 'reverification-error' }],
    ['an array body', 403, [{ clerk_error: { type: 'forbidden', reason: 'reverification-error' } }]],
    ['no body', 403, null],
  ])('is no reverification prompt: %s', (_name, status, body) => {
    expect(reverificationOf(status, body).needed).toBe(false);
    expect(classify(status, body).outcome).not.toBe('reverify');
  });

  it.each([
    [200, 'ok'],
    [204, 'ok'],
    [401, 'signed-out'],
    [403, 'forbidden'],
    [404, 'error'],
    [500, 'error'],
    [503, 'unavailable'],
  ])('classifies %i as %s', (status, outcome) => {
    expect(classify(status, { reason: 'x' }).outcome).toBe(outcome);
  });

  it('describes a requirement for people, whatever the server sent', () => {
    expect(describeRequirement('strict')).toBe('strict');
    expect(describeRequirement({ level: 'second_factor', afterMinutes: 10 })).toBe('second_factor within 10 minutes');
    for (const odd of [undefined, null, '', 42, { level: 1 }, ['strict']]) expect(describeRequirement(odd)).toBe('a recent verification');
  });
});
