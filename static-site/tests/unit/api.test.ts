import { describe, expect, it, vi } from 'vitest';
import { createApi } from '../../src/api';

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
});
