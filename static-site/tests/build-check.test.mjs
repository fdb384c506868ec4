// The production build: no secret, the publishable key present, no demo code unless demo mode
// was requested; and a build given a secret key refuses to run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SITE = new URL('..', import.meta.url).pathname;
const PK = 'pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk';

function build(outDir, env) {
  const r = spawnSync('npx', ['vite', 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], {
    cwd: SITE, env: { ...process.env, ...env }, encoding: 'utf8',
  });
  return r;
}

function allText(dir) {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out += statSync(p).isDirectory() ? allText(p) : readFileSync(p, 'utf8');
  }
  return out;
}

test('production build: publishable key in, no secret, no demo code', () => {
  const r = build('../target/site-prod', { VITE_CLERK_PUBLISHABLE_KEY: PK, VITE_API_URL: 'https://abc.execute-api.us-east-1.amazonaws.com', VITE_DEMO_MODE: '' });
  assert.equal(r.status, 0, r.stderr);
  const text = allText(join(SITE, '../target/site-prod'));
  assert.ok(text.includes(PK), 'the publishable key is in the build');
  assert.ok(text.includes('https://abc.execute-api.us-east-1.amazonaws.com'), 'the API URL is in the build');
  assert.doesNotMatch(text, /sk_(test|live)_[A-Za-z0-9]{20,}/);
  assert.ok(!text.includes('demo-stand-in-client') && !text.includes('/demo-admin'), 'no demo code');
});

test('demo build: the demo client is there', () => {
  const r = build('../target/site-demo', { VITE_CLERK_PUBLISHABLE_KEY: PK, VITE_DEMO_MODE: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(allText(join(SITE, '../target/site-demo')).includes('demo-stand-in-client'));
});

test('a build given a secret key fails and says why', () => {
  const r = build('../target/site-bad', { VITE_CLERK_PUBLISHABLE_KEY: 'sk_test_abcdefghijklmnopqrstuvwxyz0123' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /secret key/);
});
