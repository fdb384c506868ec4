// Differential test of authorization: our `Session::has` (through `has_cases`, which signs each
// session's claims into a token and verifies it as the functions do) against `@clerk/shared`'s
// `createCheckAuthorization`, given the options `@clerk/backend` builds from the same claims
// (`signedInAuthObject`). Generated sessions x conditions: organizations v1 and v2 (roles,
// permissions, `per`/`fpm` bit masks), features and plans with every scope, factor ages with
// fractions and reverification presets and custom levels, and malformed data of each kind.
//
//   node has-differential.mjs PATH/TO/has_cases [--count N]
//
// Fails on any disagreement but our one stricter rule (a `fea` Clerk's SDK throws on: we deny).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCheckAuthorization } from '@clerk/shared/authorization';
import { __experimental_JWTPayloadToAuthObjectProperties as toAuthObject } from '@clerk/shared/jwtPayloadParser';

const args = process.argv.slice(2);
const bin = args[0];
const count = Number(args[args.indexOf('--count') + 1] || 6000);
if (!bin) throw new Error('usage: node has-differential.mjs PATH/TO/has_cases [--count N]');

// A small deterministic generator, so that a failure can be replayed.
let seed = 0x20261203; // mulberry32
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(rand() * list.length)];
const ABSENT = Symbol('absent');
const set = (obj, key, value) => { if (value !== ABSENT) obj[key] = value; };

const FEA = ['o:reports,u:export', 'ou:billing,o:dashboard', 'uo:reports', 'u:export', 'o:a,,u:b', 'x:y,o:reports',
  'o:dashboard,o:teams', ' o:reports , u:pro ', '', 'reports', 5, null, ABSENT];
const PLA = ['u:pro', 'o:team,u:free', 'ou:pro', '', 'pro', 'u:pro,bad', null, ABSENT];
const FVA = [[0, -1], [5, 3], [-1, -1], [15.5, 2], [1, 0.5], [-1, 5], [100, 100], [9.99, 10], [10, 9.999],
  [0, 0], [1441, 1439], 'x', [1], [1, 2, 3], [-2, 1], [1, 'a'], null, ABSENT];
const PER = ['read,manage', 'read,,manage', 'manage', ' read , manage ', '', 5, ABSENT];
const FPM = ['3,1', '1', '2,3', 'x,1', '', ' 2 ', '1180591620717411303425,1', '-1,3', ABSENT];
const ROLE_CLAIM = ['admin', 'member', '', 'org:admin', ABSENT];

function session() {
  const claims = {};
  if (rand() < 0.7) {
    claims.v = 2;
    if (rand() < 0.8) {
      const o = {};
      set(o, 'id', pick(['org_1', 'org_2', '', ABSENT]));
      set(o, 'slg', pick(['acme', ABSENT]));
      set(o, 'rol', pick(ROLE_CLAIM));
      set(o, 'per', pick(PER));
      set(o, 'fpm', pick(FPM));
      claims.o = rand() < 0.95 ? o : pick(['org_1', null, 0]);
    }
  } else {
    set(claims, 'org_id', pick(['org_1', '', 0, ABSENT]));
    set(claims, 'org_role', pick(['org:admin', 'admin', 'org:org:admin', 'org:member', '', 7, ABSENT]));
    set(claims, 'org_permissions', pick([['org:reports:read', 'org:dashboard:manage'], ['reports:read'], [],
      'org:reports:read', [3, 'org:reports:read'], ABSENT]));
  }
  set(claims, 'fea', pick(FEA));
  set(claims, 'pla', pick(PLA));
  set(claims, 'fva', pick(FVA));
  return claims;
}

const CHECKS = {
  role: ['admin', 'org:admin', 'member', 'org:org:admin', ''],
  permission: ['org:reports:read', 'reports:read', 'org:dashboard:manage', 'dashboard:read', 'org:teams:read', ''],
  feature: ['reports', 'o:reports', 'org:reports', 'organization:billing', 'u:export', 'user:export', 'team:reports',
    'o:', 'billing', 'x:y:z', 'dashboard', 'u:billing'],
  plan: ['pro', 'u:pro', 'o:team', 'free', 'org:team', 'user:free', 'team'],
  reverification: ['strict', 'strict_mfa', 'moderate', 'lax', 'bogus', { level: 'second_factor', afterMinutes: 10 },
    { level: 'first_factor', afterMinutes: 0.5 }, { level: 'multi_factor', afterMinutes: 1e9 },
    { level: 'second_factor', afterMinutes: 0 }, { level: 'second_factor', afterMinutes: -5 },
    { level: 'first_factor', afterMinutes: 15.5 }, { level: 'x', afterMinutes: 10 }],
};

function check() {
  const c = {};
  for (const [k, options] of Object.entries(CHECKS)) if (rand() < 0.35) c[k] = pick(options);
  return c;
}

// What @clerk/backend's signed-in auth object answers, or 'throws' when it cannot build one.
function clerkHas(claims, params) {
  let props;
  try {
    props = toAuthObject({ ...claims, sub: 'user_has', sid: 'sess_has' });
  } catch {
    return 'throws';
  }
  return createCheckAuthorization({
    orgId: props.orgId,
    orgRole: props.orgRole,
    orgPermissions: props.orgPermissions,
    userId: props.userId,
    factorVerificationAge: props.factorVerificationAge,
    features: claims.fea || '',
    plans: claims.pla || '',
  })(params);
}

const cases = [];
for (let i = 0; i < count; i++) cases.push({ claims: session(), check: check() });
// Named shapes: the April 2026 bypass (one condition passing carried a failing one), and asking nothing.
cases.push({ name: 'mixed-conditions-bypass', claims: { v: 2, o: { id: 'org_1', rol: 'admin' }, fea: 'o:reports' },
  check: { role: 'admin', plan: 'pro' } });
cases.push({ name: 'nothing-asked', claims: { v: 2, o: { id: 'org_1', rol: 'admin' } }, check: {} });

const dir = mkdtempSync(join(tmpdir(), 'has-differential-'));
const file = join(dir, 'cases.json');
writeFileSync(file, JSON.stringify(cases));
const ours = JSON.parse(execFileSync(bin, [file], { maxBuffer: 64 << 20 }).toString());
if (ours.length !== cases.length) throw new Error(`has_cases answered ${ours.length} of ${cases.length}`);

let agree = 0, stricter = 0, granted = 0;
const failures = [];
cases.forEach((c, i) => {
  const theirs = clerkHas(c.claims, c.check);
  const mine = ours[i];
  if (typeof mine === 'string') failures.push({ i, c, theirs, mine: `token refused: ${mine}` });
  else if (theirs === 'throws') { if (mine === false) stricter++; else failures.push({ i, c, theirs, mine }); }
  else if (theirs === mine) { agree++; if (mine) granted++; }
  else failures.push({ i, c, theirs, mine });
});
for (const name of ['mixed-conditions-bypass', 'nothing-asked']) {
  const i = cases.findIndex((c) => c.name === name);
  if (ours[i] !== false) failures.push({ i, c: cases[i], mine: ours[i], theirs: 'must be false' });
}
console.log(`has-differential: ${cases.length} sessions x conditions, ${agree} agreements (${granted} granted), ` +
  `${stricter} stricter (a fea Clerk's SDK throws on: denied), ${failures.length} disagreements`);
if (failures.length) {
  for (const f of failures.slice(0, 10)) console.log(JSON.stringify(f));
  process.exit(1);
}
