// The sign-in site in a real browser (Debian's Chromium through playwright-core) against the local
// stack in demo mode, started with the README's run command (`scripts/dev.sh`) on free ports.
// Screenshots go to target/site-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = new URL('../../..', import.meta.url).pathname;
const SHOTS = join(ROOT, 'target/site-screenshots');
mkdirSync(SHOTS, { recursive: true });

// Distinct free ports below the kernel's ephemeral range (see scripts/ports.py): port 0 would
// pick from inside it, where an outgoing connection made meanwhile can hold the port.
const freePorts = (n) => execFileSync('python3', [join(ROOT, 'scripts/ports.py'), String(n)], { encoding: 'utf8' })
  .trim().split('\n');

let stack, browser, site, output = '';
const children = [];

function startGroup(cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function waitFor(child, text, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}":\n${output}`)), ms);
    const on = (d) => { output += d; if (output.includes(text)) { clearTimeout(timer); resolve(); } };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code} before "${text}":\n${output}`)); });
  });
}

before(async () => {
  const [API_PORT, MOTO_PORT, STUB_PORT, STUB_ADMIN_PORT, SITE_PORT] = freePorts(5);
  const ports = { API_PORT, MOTO_PORT, STUB_PORT, STUB_ADMIN_PORT, SITE_PORT };
  site = `http://localhost:${ports.SITE_PORT}`;
  stack = startGroup(join(ROOT, 'scripts/dev.sh'), [], { cwd: ROOT, env: { ...process.env, ...ports } });
  await waitFor(stack, 'Local stack is up', 600_000);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    // playwright gives every launch a fresh, empty user data dir.
  });
});

after(async () => {
  await browser?.close();
  for (const c of children) {
    try { process.kill(-c.pid, 'SIGTERM'); } catch {}
  }
  await new Promise((r) => setTimeout(r, 1500));
  for (const c of children) {
    try { process.kill(-c.pid, 'SIGKILL'); } catch {}
  }
});

async function lastResult(page) {
  const r = page.locator('#results .result').first();
  await r.waitFor();
  return r.innerText();
}

test('sign in as a demo user, see the profile, call the API, sign out', async () => {
  const page = await browser.newPage();
  await page.goto(site);
  await page.getByText('Demo mode').first().waitFor();

  // Signed out: the protected endpoint is refused with its reason.
  await page.click('#call-protected');
  const refused = await lastResult(page);
  assert.match(refused, /401/);
  assert.match(refused, /session-token-missing/);
  await page.screenshot({ path: join(SHOTS, '1-signed-out.png'), fullPage: true });

  // The protected page sends a signed-out visitor to sign in, and back afterwards.
  await page.goto(`${site}/protected`);
  await page.waitForURL(/redirect_url=%2Fprotected/);
  await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().click();
  await page.waitForURL(`${site}/protected`);
  await page.locator('#profile-name').waitFor();
  assert.equal(await page.locator('#profile-name').innerText(), 'Alice Anders');
  assert.equal(await page.locator('#profile-email').innerText(), 'alice@example.com');

  await page.click('#call-protected');
  const ok = await lastResult(page);
  assert.match(ok, /200/);
  assert.match(ok, /user_demoAlice/);
  await page.click('#call-public');
  assert.match(await lastResult(page), /200/);
  await page.screenshot({ path: join(SHOTS, '2-signed-in-protected.png'), fullPage: true });

  // Sign out: the protected endpoint is refused again.
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.goto(site);
  await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().waitFor();
  await page.click('#call-protected');
  const again = await lastResult(page);
  assert.match(again, /401/);
  assert.match(again, /session-token-missing/);
  await page.screenshot({ path: join(SHOTS, '3-signed-out-again.png'), fullPage: true });
  await page.close();
});

test('a missing publishable key shows what to set, never a blank page', async () => {
  const [port] = freePorts(1);
  const vite = startGroup('npx', ['vite', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: join(ROOT, 'static-site'),
    env: { ...process.env, VITE_CLERK_PUBLISHABLE_KEY: '', VITE_DEMO_MODE: '' },
  });
  await waitFor(vite, String(port), 60_000);
  const page = await browser.newPage();
  await page.goto(`http://localhost:${port}/`);
  await page.getByText('VITE_CLERK_PUBLISHABLE_KEY is not set').waitFor();
  assert.match(await page.locator('h1').innerText(), /needs its configuration/);
  await page.screenshot({ path: join(SHOTS, '4-missing-key.png'), fullPage: true });
  await page.close();
});
