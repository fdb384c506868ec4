// Differential test of the webhook signature check: ours (functions/webhooks, through the
// `webhook_cases` example) against Clerk's own `verifyWebhook` of @clerk/backend (standardwebhooks
// underneath), on generated deliveries: valid ones, and each way one can be wrong (tampered body,
// id or timestamp; another key; timestamps at and beyond the 5-minute tolerance either side;
// several signatures, other versions, truncated or padded signatures; missing or empty headers;
// white space; non-ASCII bodies).
//
//   node webhook-differential.mjs PATH/TO/webhook_cases [--count N]
//
// Fails on any disagreement except our named stricter rules, where Clerk's SDK accepts and we
// refuse (never the other way round): a timestamp that is not plain digits (Clerk's parseInt reads
// `0123` or `123abc` as 123), an id with characters outside printable ASCII, a header sent twice.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { verifyWebhook } from '@clerk/backend/webhooks';

const args = process.argv.slice(2);
const bin = args[0];
const count = Number(args[args.indexOf('--count') + 1] || 3000);
if (!bin) throw new Error('usage: node webhook-differential.mjs PATH/TO/webhook_cases [--count N]');

let seed = 0x16161616; // mulberry32: a failure can be replayed
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(rand() * list.length)];
const int = (n) => Math.floor(rand() * n);
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(256)));
const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const word = (n) => Array.from({ length: n }, () => alnum[int(alnum.length)]).join('');

const sign = (keyBytes, id, ts, body) =>
  createHmac('sha256', keyBytes).update(`${id}.${ts}.${body}`).digest('base64');

const NAMES = ['Ada', 'Grace', 'Zoë', 'José', '李', '😀 emoji', 'a"quote', 'back\\slash', ''];
function body() {
  const kind = pick(['user.created', 'user.updated', 'user.deleted', 'organization.created',
    'organizationMembership.updated', 'session.created']);
  const data = kind === 'user.deleted'
    ? { id: `user_${word(27)}`, deleted: true, object: 'user' }
    : { id: `user_${word(27)}`, object: 'user', first_name: pick(NAMES), last_name: pick(NAMES),
        public_metadata: rand() < 0.5 ? {} : { plan: pick(['pro', 'free']) }, updated_at: 1.7e12 + int(1e9) };
  const text = JSON.stringify({ type: kind, object: 'event', timestamp: 1.7e12 + int(1e9), data },
    null, rand() < 0.2 ? 2 : undefined);
  return rand() < 0.1 ? `${text}\n` : text;
}

// Mutations, each with whether ours may be stricter (Clerk accepts, we refuse) for it.
const MUTATIONS = {
  none: (c) => c,
  'body-tampered': (c) => {
    const i = int(c.body.length);
    const ch = c.body[i] === 'a' ? 'b' : 'a';
    return { ...c, body: c.body.slice(0, i) + ch + c.body.slice(i + 1) };
  },
  'body-appended': (c) => ({ ...c, body: `${c.body} ` }),
  'id-tampered': (c) => ({ ...c, headers: set(c.headers, 'svix-id', `${get(c.headers, 'svix-id')}x`) }),
  'timestamp-tampered': (c) => ({ ...c, headers: set(c.headers, 'svix-timestamp', String(Number(get(c.headers, 'svix-timestamp')) + 1)) }),
  'other-key': (c) => {
    const other = bytes(24);
    return { ...c, headers: set(c.headers, 'svix-signature', `v1,${sign(other, c.id, c.ts, c.body)}`) };
  },
  'several-signatures': (c) => {
    const junk = () => pick([`v1,${bytes(32).toString('base64')}`, `v2,${bytes(32).toString('base64')}`, 'v1a,xyz', 'garbage']);
    const parts = [junk(), junk()];
    parts.splice(int(3), 0, get(c.headers, 'svix-signature'));
    return { ...c, headers: set(c.headers, 'svix-signature', parts.join(' ')) };
  },
  'only-other-versions': (c) => ({ ...c, headers: set(c.headers, 'svix-signature', get(c.headers, 'svix-signature').replace('v1,', pick(['v2,', 'v0,', 'V1,', 'v1;', ',', 'v1 ']))) }),
  'signature-truncated': (c) => ({ ...c, headers: set(c.headers, 'svix-signature', get(c.headers, 'svix-signature').slice(0, -1 - int(5))) }),
  'signature-unpadded': (c) => ({ ...c, headers: set(c.headers, 'svix-signature', get(c.headers, 'svix-signature').replace(/=+$/, '')) }),
  'signature-extra-field': (c) => ({ ...c, headers: set(c.headers, 'svix-signature', `${get(c.headers, 'svix-signature')},${pick(['x', '', 'v1'])}`) }),
  'signature-double-space': (c) => ({ ...c, headers: set(c.headers, 'svix-signature', `v1,AAAA  ${get(c.headers, 'svix-signature')}`) }),
  'whitespace-around': (c) => ({ ...c, headers: c.headers.map(([n, v]) => [n, pick([` ${v}`, `${v} `, `\t${v}`, v])]) }),
  'header-missing': (c) => {
    const name = pick(['svix-id', 'svix-timestamp', 'svix-signature']);
    return { ...c, headers: c.headers.filter(([n]) => n !== name) };
  },
  'header-empty': (c) => ({ ...c, headers: set(c.headers, pick(['svix-id', 'svix-timestamp', 'svix-signature']), pick(['', ' '])) }),
  'clock-skew': (c) => {
    const off = pick([0, 1, 299, 300, 301, 302, 3600, 1e6]) * pick([1, -1]);
    return { ...c, now_ms: Number(c.ts) * 1000 + off * 1000 + int(1000) };
  },
  // Our stricter rules.
  'timestamp-leading-zero': (c) => ({ ...c, headers: set(c.headers, 'svix-timestamp', `0${c.ts}`) }),
  'timestamp-trailing-text': (c) => ({ ...c, headers: set(c.headers, 'svix-timestamp', `${c.ts}${pick(['abc', '.5', 'e0', ' 1'])}`) }),
  'id-not-printable-ascii': (c) => {
    const id = `msg ${word(8)}`;
    return resign({ ...c, id });
  },
  'header-twice': (c) => {
    const name = pick(['svix-id', 'svix-timestamp', 'svix-signature']);
    return { ...c, headers: [...c.headers, [name, get(c.headers, name)]] };
  },
};
const STRICTER = new Set(['timestamp-leading-zero', 'timestamp-trailing-text', 'id-not-printable-ascii', 'header-twice']);

function get(headers, name) { return (headers.find(([n]) => n === name) || [])[1]; }
function set(headers, name, value) { return headers.map(([n, v]) => [n, n === name ? value : v]); }
function resign(c) {
  return { ...c, headers: [['svix-id', c.id], ['svix-timestamp', c.ts], ['svix-signature', `v1,${sign(c.keyBytes, c.id, c.ts, c.body)}`]] };
}

function base() {
  const keyBytes = bytes(pick([24, 24, 32, 48, 64]));
  const now = 1_700_000_000 + int(1e8);
  const ts = String(now - 300 + int(601));
  const c = { keyBytes, secret: `whsec_${keyBytes.toString('base64')}`, id: `msg_${word(27)}`, ts, body: body(), now_ms: now * 1000 + int(1000) };
  return resign(c);
}

const names = Object.keys(MUTATIONS);
const cases = [];
for (let i = 0; i < count; i++) {
  const label = i < names.length ? names[i] : pick(names);
  const c = MUTATIONS[label](base());
  cases.push({ label, secret: c.secret, headers: c.headers, body: c.body, now_ms: c.now_ms });
}

const ours = execFileSync(bin, { input: cases.map((c) => JSON.stringify(c)).join('\n') + '\n', maxBuffer: 1 << 26 })
  .toString().trim().split('\n');
if (ours.length !== cases.length) throw new Error(`${ours.length} answers for ${cases.length} cases`);

const realNow = Date.now;
const tally = {};
const unexpected = [];
let stricter = 0;
for (let i = 0; i < cases.length; i++) {
  const c = cases[i];
  Date.now = () => c.now_ms;
  let clerk;
  try {
    const headers = new Headers();
    for (const [n, v] of c.headers) headers.append(n, v);
    const req = new Request('https://example.com/api/webhooks/clerk', { method: 'POST', headers, body: c.body });
    await verifyWebhook(req, { signingSecret: c.secret });
    clerk = 'ok';
  } catch (e) {
    clerk = 'refused';
  } finally {
    Date.now = realNow;
  }
  const ok = ours[i] === 'ok';
  const t = (tally[c.label] ||= { cases: 0, accepted: 0, stricter: 0 });
  t.cases++;
  if (ok) t.accepted++;
  if (ok === (clerk === 'ok')) continue;
  if (!ok && STRICTER.has(c.label)) { t.stricter++; stricter++; continue; }
  unexpected.push({ i, label: c.label, ours: ours[i], clerk, headers: c.headers, now_ms: c.now_ms });
}

console.table(tally);
const accepted = Object.values(tally).reduce((n, t) => n + t.accepted, 0);
console.log(`webhook differential: ${cases.length} cases vs @clerk/backend verifyWebhook: ${accepted} accepted by both, ` +
  `${stricter} refused by ours only under a named stricter rule, ${unexpected.length} unexpected disagreements`);
if (unexpected.length) {
  console.log(JSON.stringify(unexpected.slice(0, 10), null, 2));
  process.exit(1);
}
if (accepted < cases.length / 5) {
  console.log('too few accepted cases: the generator no longer produces valid deliveries');
  process.exit(1);
}
