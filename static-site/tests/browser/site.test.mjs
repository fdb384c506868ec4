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

const isLocal = (url) => {
  if (url.startsWith('data:') || url.startsWith('blob:')) return true;
  const { hostname } = new URL(url);
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
};

// A result whose JSON has long unbroken strings (a token, a URL): it must wrap or scroll inside
// its panel, never widen the page.
const LONG_JSON = {
  message: 'A long answer, as a token or a claim set can be',
  token: `eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc18${'x'.repeat(900)}`,
  url: `https://example.com/${'a'.repeat(300)}?q=${'b'.repeat(200)}`,
  nested: { deeper: { deepest: { key_with_a_rather_long_name_that_does_not_break: 'v'.repeat(250) } } },
};

/** Horizontal overflow: the page wider than the viewport, or any element past its right edge. */
async function overflow(page) {
  return page.evaluate(() => {
    const vw = window.innerWidth;
    const offenders = [];
    for (const e of document.querySelectorAll('body *')) {
      const r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.right > vw + 0.5 || r.left < -0.5) {
        offenders.push(`${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${[...e.classList].map((c) => `.${c}`).join('')} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
      }
    }
    return { innerWidth: vw, scrollWidth: document.documentElement.scrollWidth, offenders: offenders.slice(0, 10) };
  });
}

async function assertNoOverflow(page, width, what) {
  const o = await overflow(page);
  assert.equal(o.innerWidth, width, `${what}: the viewport stays ${width} px wide (a phone zooms out when the page is wider)`);
  assert.ok(o.scrollWidth <= o.innerWidth, `${what}: the page is ${o.scrollWidth} px wide in a ${o.innerWidth} px viewport; past the edge: ${o.offenders.join(', ')}`);
  assert.deepEqual(o.offenders, [], `${what}: elements past the right edge of a ${o.innerWidth} px viewport`);
}

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
  await page.getByText('Sign in to see the protected page').waitFor();
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

test('a signed-out visit to /protected says sign-in is needed, and returns there after it', async () => {
  const page = await browser.newPage();
  await page.goto(`${site}/protected`);
  await page.waitForURL(`${site}/?redirect_url=%2Fprotected`);
  const notice = page.locator('#sign-in-notice');
  await notice.waitFor();
  assert.equal(await notice.innerText(), 'Sign in to see the protected page.');
  assert.equal(await notice.getAttribute('role'), 'alert');
  await page.screenshot({ path: join(SHOTS, '5-protected-needs-sign-in.png'), fullPage: true });
  await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().click();
  await page.waitForURL(`${site}/protected`);
  await page.locator('#profile-name').waitFor();
  assert.equal(await page.locator('h1').first().innerText(), 'Protected page');
  assert.equal(await page.locator('#sign-in-notice').count(), 0);

  // Without a redirect_url (or with one that leaves the site) there is no such notice.
  const other = await browser.newPage();
  await other.goto(`${site}/?redirect_url=%2F%5Cevil.example`);
  await other.getByRole('button', { name: 'Continue as Alice Anders' }).first().waitFor();
  assert.equal(await other.locator('#sign-in-notice').count(), 0);
  await other.getByRole('button', { name: 'Continue as Alice Anders' }).first().click();
  await other.locator('#profile-name').waitFor();
  assert.equal(new URL(other.url()).origin, site, 'an open-redirect payload keeps the visitor on the site');
  assert.equal(new URL(other.url()).pathname, '/');
  await other.close();
  await page.close();
});

test('the demo banner says signed out when signed out, and who is signed in otherwise', async () => {
  const page = await browser.newPage();
  await page.goto(site);
  const banner = page.locator('#banner');
  await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().waitFor();
  assert.ok(await banner.isVisible());
  const out = await banner.innerText();
  assert.match(out, /Demo mode/);
  assert.match(out, /signed out/i);
  assert.doesNotMatch(out, /signed in/i);
  await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().click();
  await page.locator('#profile-name').waitFor();
  assert.match(await banner.innerText(), /signed in as Alice Anders/);
  await page.locator('#sign-out').click();
  await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().waitFor();
  assert.doesNotMatch(await banner.innerText(), /signed in/i);
  await page.close();
});

test('demo mode stays on localhost: every request is local, and the avatar renders offline', async () => {
  const page = await browser.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(site);
  await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().click();
  await page.locator('#profile-name').waitFor();
  const avatar = page.locator('#profile img.avatar');
  await page.waitForFunction(() => {
    const img = document.querySelector('#profile img.avatar');
    return img && img.complete;
  });
  const { naturalWidth, visibility, src } = await avatar.evaluate((img) => ({
    naturalWidth: img.naturalWidth, visibility: getComputedStyle(img).visibility, src: img.src,
  }));
  assert.ok(naturalWidth > 0, `the avatar loaded (naturalWidth ${naturalWidth}, src ${src.slice(0, 60)})`);
  assert.equal(visibility, 'visible');
  await page.click('#call-protected');
  assert.match(await lastResult(page), /200/);
  await page.goto(`${site}/protected`);
  await page.locator('#profile-name').waitFor();
  await page.waitForLoadState('networkidle');
  const away = requests.filter((u) => !isLocal(u));
  assert.deepEqual(away, [], 'requests that left localhost in demo mode');
  assert.ok(requests.length > 5, 'the log saw the page load');
  await page.screenshot({ path: join(SHOTS, '6-demo-avatar.png') });
  await page.close();
});

/** Signs in as a demo user from the protected page's sign-in notice and waits for the page. */
async function protectedPageAs(page, name) {
  await page.goto(`${site}/protected`);
  await page.getByRole('button', { name: `Continue as ${name}` }).first().click();
  await page.waitForURL(`${site}/protected`);
  await page.locator('#profile-name').waitFor();
}

/** Clicks a call button and returns the newest result once `count` results are shown. */
async function click(page, id, count) {
  await page.click(`#${id}`);
  await page.locator('#results > *').nth(count - 1).waitFor();
  const first = page.locator('#results > *').first();
  return { text: await first.innerText(), outcome: await first.getAttribute('data-outcome') };
}

test('authorization: Alice may administer Acme and use reports; the sensitive action asks her to verify again, then succeeds', async () => {
  const page = await browser.newPage();
  await protectedPageAs(page, 'Alice Anders');
  assert.match(await page.locator('#access-summary').innerText(), /Alice Anders: admin of Acme \(org_demoAcme\); pro plan with the feature reports\. Last verified 30 minutes ago\./);

  let r = await click(page, 'call-org-admin', 1);
  assert.equal(r.outcome, 'ok', r.text);
  assert.match(r.text, /GET \/api\/orgs\/org_demoAcme\/admin\n?\s*200/);
  assert.match(r.text, /"role": "org:admin"/);
  r = await click(page, 'call-reports', 2);
  assert.equal(r.outcome, 'ok', r.text);
  assert.match(r.text, /GET \/api\/reports\n?\s*200/);

  // Verified 30 minutes ago: strict reverification (10 minutes) is not met. The 403 is shown and
  // the demo's verification prompt opens, a modal dialog with the focus inside it.
  await page.click('#call-sensitive');
  const dialog = page.getByRole('dialog', { name: 'Verify it is you' });
  await dialog.waitFor();
  r = { text: await page.locator('#results > *').first().innerText(), outcome: await page.locator('#results > *').first().getAttribute('data-outcome') };
  assert.equal(r.outcome, 'reverify', r.text);
  assert.match(r.text, /POST \/api\/sensitive\n?\s*403/);
  assert.match(r.text, /needs you to verify again \(strict\)/);
  assert.match(r.text, /"reverification": "strict"/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'reverify-confirm');
  await page.screenshot({ path: join(SHOTS, '7-verify-again.png'), fullPage: true });
  await page.getByRole('button', { name: 'Verify again' }).click();
  await page.locator('#results > *').nth(3).waitFor();
  r = { text: await page.locator('#results > *').first().innerText(), outcome: await page.locator('#results > *').first().getAttribute('data-outcome') };
  assert.equal(r.outcome, 'ok', r.text);
  assert.match(r.text, /POST \/api\/sensitive \(after verifying again\)\n?\s*200/);
  assert.equal(await dialog.count(), 0, 'the prompt is gone');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'call-sensitive', 'the focus is back on the button');
  assert.match(await page.locator('#access-summary').innerText(), /Verified again in this tab/);

  // Within ten minutes of verifying, the action needs no prompt.
  r = await click(page, 'call-sensitive', 5);
  assert.equal(r.outcome, 'ok', r.text);
  assert.equal(await dialog.count(), 0);
  await page.screenshot({ path: join(SHOTS, '8-authorization-alice.png'), fullPage: true });
  await page.close();
});

test('authorization: Bob, a plain member, is refused org admin and reports (403 with the reason); cancelling the prompt does nothing', async () => {
  const page = await browser.newPage();
  await protectedPageAs(page, 'Bob Baker');
  assert.match(await page.locator('#access-summary').innerText(), /Bob Baker: member of Acme \(org_demoAcme\); no plan features\./);

  let r = await click(page, 'call-org-admin', 1);
  assert.equal(r.outcome, 'forbidden', r.text);
  assert.match(r.text, /GET \/api\/orgs\/org_demoAcme\/admin\n?\s*403/);
  assert.match(r.text, /You are signed in but not allowed to do this \(reason: forbidden\)/);
  r = await click(page, 'call-reports', 2);
  assert.equal(r.outcome, 'forbidden', r.text);
  assert.match(r.text, /GET \/api\/reports\n?\s*403/);
  assert.match(r.text, /You are signed in but not allowed to do this \(reason: forbidden\)/);
  assert.doesNotMatch(r.text, /Not signed in/);

  // Escape cancels the prompt: no retry, and the page says the action was not done.
  await page.click('#call-sensitive');
  await page.getByRole('dialog', { name: 'Verify it is you' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByText('Verification cancelled: the action was not done.').waitFor();
  assert.equal(await page.locator('#results > *').count(), 4, 'the 403, the note, and no retry');
  assert.match(await page.locator('#results > *').nth(1).innerText(), /POST \/api\/sensitive\n?\s*403/);
  await page.screenshot({ path: join(SHOTS, '9-authorization-bob.png'), fullPage: true });
  await page.close();
});

test('authorization: without an active organization, Org admin says so and shows the API refusing a placeholder', async () => {
  const page = await browser.newPage();
  // The users list without organizations: the site knows no active organization for Alice.
  await page.route('**/demo-admin/users', async (route) => {
    const r = await route.fetch();
    const { users } = await r.json();
    await route.fulfill({ response: r, json: { users: users.map(({ organization, ...u }) => u) } });
  });
  await protectedPageAs(page, 'Alice Anders');
  assert.match(await page.locator('#access-summary').innerText(), /Alice Anders: no organization;/);
  const r = await click(page, 'call-org-admin', 1);
  assert.equal(r.outcome, 'forbidden', r.text);
  assert.match(r.text, /GET \/api\/orgs\/no-active-org\/admin\n?\s*403/);
  assert.match(r.text, /You have no active organization/);
  await page.close();
});

for (const [width, height, mobile] of [[1280, 800, false], [390, 844, true]]) {
  test(`no horizontal overflow at ${width} px after a 401 and a long JSON result`, async () => {
    const context = await browser.newContext({ viewport: { width, height }, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: mobile ? 2 : 1 });
    const page = await context.newPage();
    await page.route('**/api/public', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(LONG_JSON) }));
    await page.goto(site);
    await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().waitFor();
    await assertNoOverflow(page, width, 'signed out');

    await page.click('#call-protected');
    assert.match(await lastResult(page), /401/);
    await assertNoOverflow(page, width, 'signed out, after a 401');
    await page.click('#call-public');
    await page.locator('#results .result').nth(1).waitFor();
    assert.match(await lastResult(page), /eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc18x/);
    await assertNoOverflow(page, width, 'signed out, after a 401 and a long JSON result');
    await page.screenshot({ path: join(SHOTS, `layout-${width}-signed-out.png`), fullPage: true });

    await page.getByRole('button', { name: 'Continue as Alice Anders' }).first().click();
    await page.locator('#profile-name').waitFor();
    await page.goto(`${site}/protected`);
    await page.locator('#profile-name').waitFor();
    await page.click('#call-protected');
    assert.match(await lastResult(page), /200/);
    await page.click('#call-public');
    await page.locator('#results .result').nth(1).waitFor();
    await assertNoOverflow(page, width, 'protected page, after a 200 and a long JSON result');
    await page.screenshot({ path: join(SHOTS, `layout-${width}-protected.png`), fullPage: true });
    // The authorization examples: a 403 with its prompt open fits too.
    await page.click('#call-sensitive');
    await page.getByRole('dialog', { name: 'Verify it is you' }).waitFor();
    await assertNoOverflow(page, width, 'protected page, verification prompt open');
    await page.screenshot({ path: join(SHOTS, `layout-${width}-verify-again.png`) });
    await page.keyboard.press('Escape');
    await context.close();
  });
}

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
  // What works: the root .env for make dev, VITE_CLERK_PUBLISHABLE_KEY for the site alone.
  const text = await page.locator('#app').innerText();
  assert.match(text, /For make dev: CLERK_PUBLISHABLE_KEY=pk_test_… in the \.env at the root of the repository/);
  assert.match(text, /For the site alone: VITE_CLERK_PUBLISHABLE_KEY=pk_test_… \(and VITE_API_URL, the API's base URL\) in the environment of npm run dev or npm run build in static-site\//);
  assert.doesNotMatch(text, /\.env\.local/);
  await page.screenshot({ path: join(SHOTS, '4-missing-key.png'), fullPage: true });
  await page.close();
});
