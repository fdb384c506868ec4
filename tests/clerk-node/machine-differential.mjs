// Machine-token differential: our verdict (shared::machine through `machine_cases`) against
// Clerk's own `@clerk/backend` `authenticateRequest({ acceptsToken })`, both pointed at the Clerk
// stand-in (`clerk-stub`: the Backend API verify endpoints and the key set), over generated cases:
// every token type and form (API keys, opaque and JWT M2M and OAuth tokens, session tokens),
// valid, unknown, revoked, expired, lenient 200s, throttled, tampered, type confusions, several
// `acceptsToken` values, and Backend API faults.
//
//   node machine-differential.mjs PATH/TO/machine_cases PATH/TO/clerk-stub [--count N]
//
// Fails on any disagreement that is not one of our documented stricter rules (never laxer); prints
// the counts of agreements and of each deliberate difference by rule.
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClerkClient } from '@clerk/backend';

const args = process.argv.slice(2);
const [bin, stubBin] = args;
const count = Number(args[args.indexOf('--count') + 1] || 1200);
if (!bin || !stubBin) throw new Error('usage: node machine-differential.mjs machine_cases clerk-stub [--count N]');

const AZP = 'http://localhost:5173';
const SECRET = 'sk_test_machineDiff00000000000000000000000000000';

// The stand-in on free ports; its first line names them.
const stub = spawn(stubBin, ['--port', '0', '--admin-port', '0', '--secret-key', SECRET], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const info = await new Promise((resolve, reject) => {
  const rl = createInterface({ input: stub.stdout });
  rl.once('line', (l) => resolve(JSON.parse(l)));
  stub.once('exit', (c) => reject(new Error(`clerk-stub exited ${c}`)));
});
const stop = () => { try { stub.kill('SIGINT'); } catch {} };
process.on('exit', stop);

const admin = async (path, body) => {
  const r = await fetch(info.adminUrl + path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}),
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
};

// A seeded generator: the same cases every run.
let seed = 0x15c0ffee;
const rand = () => { seed = (seed + 0x6d2b79f5) | 0; let t = seed; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const pick = (a) => a[Math.floor(rand() * a.length)];
const randomId = () => Array.from({ length: 24 }, () => pick('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')).join('');

const ACCEPTS = ['any', 'session_token', 'api_key', 'm2m_token', 'oauth_token',
  ['api_key'], ['session_token'], ['api_key', 'oauth_token'], ['m2m_token', 'session_token'],
  ['session_token', 'api_key', 'm2m_token', 'oauth_token']];

const ISS_WRONG = 'https://other-99.clerk.accounts.dev';
// Each shape: name -> async () => ({ token, rule? }). `rule`: a deliberate stricter rule of ours
// that may refuse what Clerk's SDK accepts.
const opaque = (path) => ({
  valid: async () => ({ token: (await admin(path)).token }),
  'valid-org': async () => ({ token: (await admin(path, path.includes('api_keys') ? { subject: 'org_acme' } : {})).token }),
  unknown: async () => ({ token: { '/machine/api_keys': 'ak_', '/machine/m2m_tokens': 'mt_', '/machine/oauth_tokens': 'oat_' }[path] + randomId() }),
  revoked: async () => { const { token } = await admin(path); await admin('/machine/revoke', { token }); return { token }; },
  expired: async () => ({ token: (await admin(path, { ttl_secs: -5 })).token }),
  'revoked-200': async () => ({ token: (await admin(path, { answer: 'revoked_200' })).token, rule: 'flags-of-a-200' }),
  'expired-200': async () => ({ token: (await admin(path, { answer: 'expired_200' })).token, rule: 'flags-of-a-200' }),
  'inactive-200': async () => ({ token: (await admin(path, { answer: 'inactive_200' })).token, rule: 'flags-of-a-200' }),
  'no-subject-200': async () => ({ token: (await admin(path, { answer: 'no_subject_200' })).token, rule: 'flags-of-a-200' }),
  throttled: async () => ({ token: (await admin(path, { answer: 'ratelimited' })).token, outage: true }),
});
const jwtForm = (path) => ({
  'jwt-valid': async () => ({ token: (await admin(path, { jwt: true })).token }),
  'jwt-expired': async () => ({ token: (await admin(path, { jwt: true, ttl_secs: -60 })).token }),
  'jwt-iss-wrong': async () => ({ token: (await admin(path, { jwt: true, claims: { iss: ISS_WRONG } })).token, rule: 'iss-pinned' }),
  'jwt-iss-missing': async () => ({ token: (await admin(path, { jwt: true, claims: { iss: null } })).token, rule: 'iss-pinned' }),
  'jwt-tampered': async () => { const t = (await admin(path, { jwt: true })).token; const [h, p, s] = t.split('.'); return { token: `${h}.${p}.${s.slice(0, -6)}AAAAAA` }; },
  'jwt-prefixed': async () => ({ token: path.includes('m2m') ? 'mt_' + (await admin(path, { jwt: true })).token : 'oat_' + (await admin(path, { jwt: true })).token }),
});
const session = {
  'session-valid': async () => ({ token: (await admin('/tokens', {})).token }),
  'session-expired': async () => ({ token: (await admin('/tokens', { offset_secs: -120 })).token }),
  'session-m2m-category': async () => ({ token: (await admin('/tokens', { header: { cat: 'cl_B7d4PD333AAA' } })).token }),
  'session-typ-at+jwt': async () => ({ token: (await admin('/tokens', { header: { typ: 'at+jwt' } })).token, rule: 'session-category-on-an-access-token' }),
  'session-sub-machine': async () => ({ token: (await admin('/tokens', { sub: 'mch_impostor', header: { cat: null } })).token }),
  // Type confusion: an API key prefix on a session JWT; the instance's secret key as a bearer.
  'ak-prefixed-session-jwt': async () => ({ token: 'ak_' + (await admin('/tokens', {})).token }),
  'secret-key-as-bearer': async () => ({ token: SECRET }),
  'machine-secret-key-as-bearer': async () => ({ token: 'ak_' + randomId() + randomId() }),
};
const SHAPES = {
  api_key: opaque('/machine/api_keys'),
  m2m: { ...opaque('/machine/m2m_tokens'), ...jwtForm('/machine/m2m_tokens') },
  oauth: { ...opaque('/machine/oauth_tokens'), ...jwtForm('/machine/oauth_tokens') },
  session,
};

// Faults of the Backend API for some groups: both sides see the same stand-in state.
const FAULTS = ['none', 'none', 'none', 'none', 'error500', 'down', 'garbage'];
const groups = new Map();
for (let i = 0; i < count; i++) {
  const family = pick(Object.keys(SHAPES));
  const shape = pick(Object.keys(SHAPES[family]));
  const fault = shape.startsWith('jwt') || family === 'session' ? 'none' : pick(FAULTS);
  if (!groups.has(fault)) groups.set(fault, []);
  groups.get(fault).push({ family, shape, accepts: pick(ACCEPTS) });
}

const clerk = createClerkClient({ secretKey: SECRET, publishableKey: info.publishableKey, apiUrl: info.apiUrl });
async function theirs(c) {
  const req = new Request('http://localhost:9000/api/machine', { headers: { authorization: `Bearer ${c.token}` } });
  const state = await clerk.authenticateRequest(req, { acceptsToken: c.accepts, authorizedParties: [AZP] });
  if (!state.isAuthenticated) return { ok: false, reason: state.reason };
  let subject = null;
  try { const a = state.toAuth(); subject = a.subject ?? a.userId ?? null; } catch { subject = null; }
  return { ok: true, type: state.tokenType, subject };
}

const env = { ...process.env, CLERK_PUBLISHABLE_KEY: info.publishableKey, CLERK_API_URL: info.apiUrl,
  CLERK_SECRET_KEY: SECRET, CLERK_AUTHORIZED_PARTIES: AZP, RUST_LOG: 'off' };
const dir = mkdtempSync(join(tmpdir(), 'machine-differential-'));
const tally = { agree: 0, outage503: 0 };
const rules = {};
const failures = [];
let total = 0;
const sessionOnly = (a) => a === 'session_token' || (Array.isArray(a) && a.length === 1 && a[0] === 'session_token');
for (const [fault, cases] of groups) {
  for (const c of cases) Object.assign(c, await SHAPES[c.family][c.shape]());
  await admin('/fault', { mode: fault === 'error500' ? 'error500' : fault });
  const file = join(dir, `${fault}.json`);
  writeFileSync(file, JSON.stringify(cases.map((c) => ({ token: c.token, accepts: c.accepts }))));
  const ours = JSON.parse(execFileSync(bin, [file], { env, maxBuffer: 64 << 20 }).toString());
  if (ours.length !== cases.length) throw new Error(`machine_cases answered ${ours.length} of ${cases.length}`);
  for (const [i, c] of cases.entries()) {
    total++;
    const t = await theirs(c);
    const m = ours[i];
    const fail = (why) => failures.push({ why, fault, family: c.family, shape: c.shape, accepts: c.accepts, theirs: t, mine: m });
    if (m.ok && !t.ok) { fail('ours accepted what Clerk refused'); continue; }
    if (m.ok && t.ok) {
      if (m.type === t.type && m.subject === t.subject) tally.agree++; else fail('different principal');
      continue;
    }
    if (!m.ok && t.ok) {
      if (c.rule && m.status === 401) rules[c.rule] = (rules[c.rule] || 0) + 1;
      // Clerk's SDK signs in on a 200 whose body is not JSON (no subject); ours: 503.
      else if (fault === 'garbage' && m.status === 503) rules['unreadable-200-is-503'] = (rules['unreadable-200-is-503'] || 0) + 1;
      else fail('ours refused what Clerk accepted');
      continue;
    }
    // Both refuse.
    if (m.status === 503) {
      if (fault !== 'none' || c.outage) tally.outage503++; else fail('503 without an outage');
      continue;
    }
    if ((fault !== 'none' || c.outage) && m.reason !== 'token-type-mismatch' && m.status !== 401) { fail('outage not 503'); continue; }
    if ((fault !== 'none' || c.outage) && m.reason !== 'token-type-mismatch') { fail('outage answered 401, never "signed out"'); continue; }
    if (t.reason === 'token-type-mismatch' && m.reason !== 'token-type-mismatch') { fail('Clerk names a type mismatch, ours does not'); continue; }
    if (m.reason === 'token-type-mismatch' && t.reason !== 'token-type-mismatch') {
      // Clerk's SDK tries an opaque machine token as a session where only sessions are accepted.
      if (sessionOnly(c.accepts)) { rules['mismatch-named-at-session-routes'] = (rules['mismatch-named-at-session-routes'] || 0) + 1; continue; }
      fail('ours names a type mismatch, Clerk does not');
      continue;
    }
    tally.agree++;
  }
}
await admin('/fault', { mode: 'none' });
stop();
console.log(`machine-differential: ${total} cases, ${tally.agree} agreements, ${tally.outage503} outages answered 503 ` +
  `(Clerk's SDK: signed out), stricter: ${JSON.stringify(rules)}, ${failures.length} disagreements`);
if (failures.length) {
  for (const f of failures.slice(0, 12)) console.log(JSON.stringify(f));
  process.exit(1);
}
