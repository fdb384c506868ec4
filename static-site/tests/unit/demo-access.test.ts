import { describe, expect, it } from 'vitest';
import { describeDemoUser } from '../../src/demo-client';

const acme = (role: string) => ({ id: 'org_demoAcme', slug: 'acme', name: 'Acme', role });

describe('what demo mode says each demo user may do', () => {
  it('names the organization, the role and the plan features from the users list', () => {
    expect(describeDemoUser({ id: 'user_demoAlice', firstName: 'Alice', lastName: 'Anders', organization: acme('org:admin'), features: ['reports'], plans: ['pro'] }))
      .toBe('Alice Anders: admin of Acme (org_demoAcme); pro plan with the feature reports.');
    expect(describeDemoUser({ id: 'user_demoBob', firstName: 'Bob', lastName: 'Baker', organization: acme('org:member'), features: [], plans: [] }))
      .toBe('Bob Baker: member of Acme (org_demoAcme); no plan features.');
  });

  it('copes with a stand-in that lists no authorization (an older one)', () => {
    expect(describeDemoUser({ id: 'user_x', firstName: 'X', lastName: 'Y' })).toBe('X Y: no organization; no plan features.');
    expect(describeDemoUser({ id: 'user_x', firstName: 'X', lastName: 'Y', features: ['a', 'b'] })).toBe('X Y: no organization; a plan with the features a, b.');
  });
});
