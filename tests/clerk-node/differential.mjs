// Differential test: our verifier (`clerk-token verify`) against Clerk's own `@clerk/backend`
// `verifyToken` (networkless, same PEM, same authorized parties, same frozen clock) over a corpus
// of generated tokens covering every check of the contract.
//
//   node differential.mjs PATH/TO/clerk-token [--count N] [--report FILE]
//
// Fails on any disagreement that is not one of our documented stricter rules; prints the counts of
// agreements and of each deliberate difference by rule.
import { generateKeyPairSync, createSign, createHmac } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyToken } from '@clerk/backend';

const args = process.argv.slice(2);
const cli = args[0];
const count = Number(args[args.indexOf('--count') + 1] || 2000);
const reportFile = args.includes('--report') ? args[args.indexOf('--report') + 1] : null;
if (!cli) throw new Error('usage: node differential.mjs PATH/TO/clerk-token');

const ISS = 'https://diff-00.clerk.accounts.dev';
const AZP = 'https://app.example.com';
const SKEW = 5000;
const BASE_NOW = 1_800_000_000_000;

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = publicKey.export({ type: 'spki', format: 'pem' });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const b64 = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
const sign = (input, alg = 'RS256', key = privateKey) => {
  if (alg === 'HS256') return createHmac('sha256', pem).update(input).digest('base64url');
  if (alg === 'none') return '';
  const hash = { RS256: 'RSA-SHA256', RS384: 'RSA-SHA384', RS512: 'RSA-SHA512' }[alg];
  return createSign(hash).update(input).sign(key).toString('base64url');
};
const token = (header, payload, { alg = header.alg, key } = {}) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(input, alg, key)}`;
};

// Base claim sets: v1 and v2, with and without an organization.
const bases = [
  (s) => ({}),
  (s) => ({ v: 2 }),
  (s) => ({ org_id: `org_${s}`, org_slug: 'acme', org_role: 'org:admin', org_permissions: ['org:a:read'] }),
  (s) => ({ v: 2, fea: 'o:dash', o: { id: `org_${s}`, slg: 'acme', rol: 'admin', per: 'read,manage', fpm: '3' } }),
];
const now0 = Math.floor(BASE_NOW / 1000);
const claims = (i, extra) => ({
  azp: AZP, exp: now0 + 60, fva: [0, -1], iat: now0, iss: ISS, nbf: now0 - 10,
  sid: `sess_${i}`, sts: 'active', sub: `user_${i}`, ...bases[i % bases.length](i), ...extra,
});
const hdr = (extra = {}) => ({ alg: 'RS256', kid: 'ins_diff', typ: 'JWT', cat: 'cl_B7d4PD111AAA', ...extra });
const drop = (o, k) => { const c = { ...o }; delete c[k]; return c; };

// Each case: [name, (i) => ({ token, nowMs })].
const at = (t, nowMs = BASE_NOW) => ({ token: t, nowMs });
const cases = [
  ['valid', (i) => at(token(hdr(), claims(i)))],
  ['valid-no-typ-no-cat', (i) => at(token(drop(drop(hdr(), 'typ'), 'cat'), claims(i)))],
  ['valid-cat-ignore', (i) => at(token(hdr({ cat: 'cl_I7d4PD111III' }), claims(i)))],
  ...[-1, 0, 1].map((d) => [`exp-boundary${d}`, (i) => at(token(hdr(), claims(i)), (now0 + 60) * 1000 + SKEW + d)]),
  ...[-1, 0, 1].map((d) => [`nbf-boundary${d}`, (i) => at(token(hdr(), drop(claims(i), 'iat')), (now0 - 10) * 1000 - SKEW + d)]),
  ...[-1, 0, 1].map((d) => [`iat-boundary${d}`, (i) => at(token(hdr(), drop(claims(i), 'nbf')), now0 * 1000 - SKEW + d)]),
  ['expired', (i) => at(token(hdr(), claims(i)), BASE_NOW + 3_600_000)],
  ['exp-string', (i) => at(token(hdr(), claims(i, { exp: String(now0 + 60) })))],
  ['exp-float', (i) => at(token(hdr(), claims(i, { exp: now0 + 60.5 })))],
  ['exp-missing', (i) => at(token(hdr(), drop(claims(i), 'exp')))],
  ['nbf-string', (i) => at(token(hdr(), claims(i, { nbf: 'soon' })))],
  ['azp-wrong', (i) => at(token(hdr(), claims(i, { azp: 'https://evil.example.com' })))],
  ['azp-missing', (i) => at(token(hdr(), drop(claims(i), 'azp')))],
  ['iss-wrong', (i) => at(token(hdr(), claims(i, { iss: 'https://other-99.clerk.accounts.dev' })))],
  ['iss-missing', (i) => at(token(hdr(), drop(claims(i), 'iss')))],
  ['sid-missing', (i) => at(token(hdr(), drop(claims(i), 'sid')))],
  ['sub-missing', (i) => at(token(hdr(), drop(claims(i), 'sub')))],
  ['sub-number', (i) => at(token(hdr(), claims(i, { sub: 42 })))],
  ['sts-pending', (i) => at(token(hdr(), claims(i, { sts: 'pending' })))],
  ['typ-at+jwt', (i) => at(token(hdr({ typ: 'at+jwt' }), claims(i)))],
  ['typ-lowercase', (i) => at(token(hdr({ typ: 'jwt' }), claims(i)))],
  ['cat-m2m', (i) => at(token(hdr({ cat: 'cl_B7d4PD333AAA' }), claims(i)))],
  ['cat-template', (i) => at(token(hdr({ cat: 'cl_B7d4PD222AAA' }), claims(i)))],
  ['crit', (i) => at(token(hdr({ crit: ['exp'] }), claims(i)))],
  ['alg-RS384', (i) => at(token(hdr({ alg: 'RS384' }), claims(i)))],
  ['alg-RS512', (i) => at(token(hdr({ alg: 'RS512' }), claims(i)))],
  ['alg-HS256', (i) => at(token(hdr({ alg: 'HS256' }), claims(i)))],
  ['alg-none', (i) => at(token(hdr({ alg: 'none' }), claims(i)) + 'AAAA')],
  ['other-key', (i) => at(token(hdr(), claims(i), { key: other }))],
  ['tampered-payload', (i) => {
    const t = token(hdr(), claims(i)).split('.');
    return at(`${t[0]}.${b64(claims(i, { sub: 'user_admin' }))}.${t[2]}`);
  }],
  ['tampered-signature', (i) => {
    const t = token(hdr(), claims(i));
    const c = t.at(-10) === 'A' ? 'B' : 'A';
    return at(t.slice(0, -10) + c + t.slice(-9));
  }],
  ['malformed-two-parts', (i) => at(token(hdr(), claims(i)).split('.').slice(0, 2).join('.'))],
];

// Our documented stricter rules: where Clerk accepts and we refuse, or both refuse with reasons
// that differ because of our order (signature before claims) or our extra checks.
const STRICTER = {
  'iss-wrong': 'issuer pinned (check 9)',
  'iss-missing': 'issuer pinned (check 9)',
  'sid-missing': 'sid required (check 15)',
  'crit': 'crit rejected (check 3)',
  'alg-RS384': 'alg pinned to RS256 (check 4)',
  'alg-RS512': 'alg pinned to RS256 (check 4)',
  'cat-template': 'JWT-template tokens refused (check 2)',
  // verifyToken alone accepts pending sessions; Clerk's authenticateRequest treats them as signed
  // out, and so do we, in the verifier itself (check 16, CLERK_ACCEPT_PENDING_SESSIONS to allow).
  'sts-pending': 'pending sessions refused (check 16)',
};

const dir = mkdtempSync(join(tmpdir(), 'differential-'));
const pemFile = join(dir, 'key.pem');
writeFileSync(pemFile, pem);

const corpus = [];
for (let i = 0; corpus.length < count; i++) {
  for (const [name, make] of cases) {
    if (corpus.length >= count) break;
    corpus.push({ name, ...make(i) });
  }
}

const realNow = Date.now;
async function clerk(c) {
  Date.now = () => c.nowMs;
  try {
    await verifyToken(c.token, { jwtKey: pem, authorizedParties: [AZP], clockSkewInMs: SKEW });
    return { valid: true };
  } catch (e) {
    return { valid: false, reason: e.reason ?? e.message };
  } finally {
    Date.now = realNow;
  }
}

function ours(c) {
  const r = spawnSync(cli, ['verify', '--pem', pemFile, '--issuer', ISS, '--authorized-party', AZP,
    '--skew-ms', String(SKEW), '--now-ms', String(c.nowMs), c.token], { encoding: 'utf8' });
  if (r.status === 2) throw new Error(`usage error: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  return out.valid ? { valid: true } : { valid: false, reason: out.reason };
}

const report = { total: corpus.length, agreements: 0, stricter: {}, reasonDifferences: {}, failures: [] };
for (const c of corpus) {
  const [a, b] = [await clerk(c), ours(c)];
  if (a.valid === b.valid && (a.valid || a.reason === b.reason)) {
    report.agreements++;
  } else if (STRICTER[c.name] && !b.valid) {
    report.stricter[STRICTER[c.name]] = (report.stricter[STRICTER[c.name]] ?? 0) + 1;
  } else if (!a.valid && !b.valid) {
    const k = `${c.name}: clerk ${a.reason} / ours ${b.reason}`;
    report.reasonDifferences[k] = (report.reasonDifferences[k] ?? 0) + 1;
  } else {
    report.failures.push({ name: c.name, clerk: a, ours: b });
  }
}
const summary = { ...report, failures: report.failures.length, firstFailures: report.failures.slice(0, 10) };
if (reportFile) {
  console.log(`differential: ${report.total} tokens, ${report.agreements} agreements, ` +
    `${report.failures.length} unexpected disagreements; stricter by rule: ${JSON.stringify(report.stricter)}; ` +
    `reason differences: ${JSON.stringify(report.reasonDifferences)}`);
  for (const f of summary.firstFailures) console.log(`  DISAGREEMENT ${f.name}: clerk ${JSON.stringify(f.clerk)} ours ${JSON.stringify(f.ours)}`);
} else {
  console.log(JSON.stringify(summary, null, 2));
}
if (reportFile) writeFileSync(reportFile, JSON.stringify(summary, null, 2));
process.exit(report.failures.length ? 1 : 0);
