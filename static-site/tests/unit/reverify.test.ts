import { describe, expect, it, vi } from 'vitest';
import { createApi } from '../../src/api';
import { callWithReverification, levelOf } from '../../src/reverify';

const REVERIFY = {
  error: 'forbidden', reason: 'reverification-error', message: 'Verify again.',
  clerk_error: { type: 'forbidden', reason: 'reverification-error', metadata: { reverification: 'strict' } },
};

function response(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function api(...answers: Response[]) {
  const fetchImpl = vi.fn();
  for (const a of answers) fetchImpl.mockResolvedValueOnce(a);
  return { fetchImpl, call: createApi({ baseUrl: '', getToken: async () => 't', fetchImpl }) };
}

describe('a call that may need the user to verify again', () => {
  it('prompts on a reverification answer and retries exactly once after the user verified', async () => {
    const { fetchImpl, call } = api(response(403, REVERIFY), response(200, { done: true }));
    const reverify = vi.fn(async () => 'verified' as const);
    const shown: number[] = [];
    const r = await callWithReverification(call, '/api/sensitive', { method: 'POST' }, reverify, (first) => shown.push(first.status));
    expect(reverify).toHaveBeenCalledWith('strict');
    expect(shown).toEqual([403]);
    expect(fetchImpl).toHaveBeenCalledTimes(2);
    expect(r.answer).toBe('verified');
    expect(r.retry).toMatchObject({ status: 200, outcome: 'ok' });
  });

  it('does not retry when the user cancels or cannot verify here', async () => {
    for (const answer of ['cancelled', 'unsupported'] as const) {
      const { fetchImpl, call } = api(response(403, REVERIFY));
      const r = await callWithReverification(call, '/api/sensitive', { method: 'POST' }, async () => answer);
      expect(fetchImpl).toHaveBeenCalledTimes(1);
      expect(r).toMatchObject({ answer, first: { outcome: 'reverify' } });
      expect(r.retry).toBeUndefined();
    }
  });

  it('never loops: a second reverification answer is shown as it is', async () => {
    const { fetchImpl, call } = api(response(403, REVERIFY), response(403, REVERIFY));
    const reverify = vi.fn(async () => 'verified' as const);
    const r = await callWithReverification(call, '/api/sensitive', { method: 'POST' }, reverify);
    expect(reverify).toHaveBeenCalledTimes(1);
    expect(fetchImpl).toHaveBeenCalledTimes(2);
    expect(r.retry?.outcome).toBe('reverify');
  });

  it('does not prompt for a plain 403 or a 401', async () => {
    for (const [status, body] of [[403, { error: 'forbidden', reason: 'forbidden' }], [401, { reason: 'session-token-missing' }]] as const) {
      const { fetchImpl, call } = api(response(status, body));
      const reverify = vi.fn(async () => 'verified' as const);
      const r = await callWithReverification(call, '/api/sensitive', { method: 'POST' }, reverify);
      expect(reverify).not.toHaveBeenCalled();
      expect(fetchImpl).toHaveBeenCalledTimes(1);
      expect(r.answer).toBeUndefined();
    }
  });

  it("asks Clerk's prompt for the level @clerk/shared reads from the requirement", () => {
    expect(levelOf('strict')).toBe('second_factor');
    expect(levelOf('strict_mfa')).toBe('multi_factor');
    expect(levelOf('moderate')).toBe('second_factor');
    expect(levelOf('lax')).toBe('second_factor');
    expect(levelOf({ level: 'first_factor', afterMinutes: 5 })).toBe('first_factor');
    for (const odd of ['toString', '__proto__', 'STRICT', '', undefined, null, 3, { level: 'first_factor' }, { level: 'first_factor', afterMinutes: 0 },
      { level: 'first_factor', afterMinutes: Number.NaN }, { level: 'other', afterMinutes: 5 }]) {
      expect(levelOf(odd)).toBeUndefined();
    }
  });
});
