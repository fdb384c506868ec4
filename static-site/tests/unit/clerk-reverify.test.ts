// ClerkAuth's reverification against a stand-in for clerk-js (the real one needs a browser and
// Clerk's servers): it opens Clerk's own prompt as useReverification() does, and the next token
// after verifying skips clerk-js's token cache.
import { beforeEach, describe, expect, it, vi } from 'vitest';

const fake = vi.hoisted(() => ({ instance: null as null | Record<string, unknown> }));

vi.mock('@clerk/clerk-js', () => ({
  Clerk: class {
    session = { getToken: vi.fn(async () => 'tok') };
    organization: unknown = null;
    user: unknown = null;
    __internal_openReverification?: (props: Record<string, unknown>) => void = vi.fn();
    constructor() {
      fake.instance = this as unknown as Record<string, unknown>;
    }
  },
}));

const { ClerkAuth } = await import('../../src/clerk-client');

type Props = { level?: string; afterVerification: () => void; afterVerificationCancelled: () => void };

describe("Clerk mode's verification prompt", () => {
  let auth: InstanceType<typeof ClerkAuth>;
  let open: ReturnType<typeof vi.fn>;
  let getToken: ReturnType<typeof vi.fn>;
  beforeEach(() => {
    auth = new ClerkAuth('pk_test_x');
    open = fake.instance!.__internal_openReverification as ReturnType<typeof vi.fn>;
    getToken = (fake.instance!.session as { getToken: ReturnType<typeof vi.fn> }).getToken;
  });

  it("opens Clerk's modal at the requirement's level; verified, the next token (only) skips the cache", async () => {
    const answer = auth.reverify('strict');
    expect(open).toHaveBeenCalledTimes(1);
    const props = open.mock.calls[0][0] as Props;
    expect(props.level).toBe('second_factor');
    props.afterVerification();
    await expect(answer).resolves.toBe('verified');
    await auth.getToken();
    await auth.getToken();
    expect(getToken.mock.calls).toEqual([[{ skipCache: true }], [undefined]]);
  });

  it('reports a cancelled prompt, and keeps using the cache', async () => {
    const answer = auth.reverify({ level: 'multi_factor', afterMinutes: 5 });
    const props = open.mock.calls[0][0] as Props;
    expect(props.level).toBe('multi_factor');
    props.afterVerificationCancelled();
    await expect(answer).resolves.toBe('cancelled');
    await auth.getToken();
    expect(getToken.mock.calls).toEqual([[undefined]]);
  });

  it('says it cannot prompt when clerk-js has no such method (the user must sign in again)', async () => {
    delete fake.instance!.__internal_openReverification;
    await expect(auth.reverify('strict')).resolves.toBe('unsupported');
  });

  it('reads the active organization and the role in it', () => {
    expect(auth.activeOrganization()).toBeNull();
    expect(auth.describeAccess()).toMatch(/No active organization/);
    fake.instance!.organization = { id: 'org_1', name: 'Acme' };
    fake.instance!.user = { organizationMemberships: [{ organization: { id: 'org_2' }, role: 'org:member' }, { organization: { id: 'org_1' }, role: 'org:admin' }] };
    expect(auth.activeOrganization()).toEqual({ id: 'org_1', name: 'Acme', role: 'org:admin' });
    expect(auth.describeAccess()).toBe('Active organization: Acme (org:admin).');
  });
});
