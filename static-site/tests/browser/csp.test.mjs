// The deployed site's Content-Security-Policy (the one template.yaml's SiteCsp sets on CloudFront)
// against the production build in Chromium: the site's own scripts and styles load, a call to the
// stack's API is allowed, and scripts or calls to any other Clerk or execute-api host are refused.
// No stack needed: the build is served by a small static server with the header, the API by another.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const SITE = new URL('../..', import.meta.url).pathname;
const ROOT = join(SITE, '..');
const OUT = join(ROOT, 'target/site-csp');
const PK = 'pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk'; // foo-bar-13.clerk.accounts.dev
const FAPI = 'foo-bar-13.clerk.accounts.dev';
const API_HOST_IN_TEMPLATE = 'https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}';

/** The CSP text of a resource's `ContentSecurityPolicy: !Sub >-` in template.yaml (a folded block). */
export function cspOf(template, resource) {
  const start = template.indexOf(`\n  ${resource}:\n`);
  assert.ok(start >= 0, `${resource} in template.yaml`);
  const lines = template.slice(start).split('\n');
  const i = lines.findIndex((l) => /ContentSecurityPolicy: !Sub >-\s*$/.test(l));
  const indent = lines[i + 1].match(/^ */)[0].length;
  const body = [];
  for (const l of lines.slice(i + 1)) {
    if (l.trim() && l.match(/^ */)[0].length < indent) break;
    body.push(l.trim());
  }
  return body.filter(Boolean).join(' ');
}

const freePorts = (n) => execFileSync('python3', [join(ROOT, 'scripts/ports.py'), String(n)], { encoding: 'utf8' }).trim().split('\n');

let browser, siteServer, apiServer, site, api, csp;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

before(async () => {
  const [SITE_PORT, API_PORT] = freePorts(2);
  site = `http://localhost:${SITE_PORT}`;
  api = `http://127.0.0.1:${API_PORT}`;
  const template = readFileSync(join(ROOT, 'template.yaml'), 'utf8');
  const text = cspOf(template, 'SiteCsp');
  assert.ok(text.includes(API_HOST_IN_TEMPLATE));
  // The stack's API is served over http on a local port here: the one substitution of the test.
  csp = text.replaceAll('${ClerkFrontendApi}', FAPI).replace(API_HOST_IN_TEMPLATE, api);
  assert.doesNotMatch(csp, /\$\{/, 'every ${...} of the template substituted');

  const r = spawnSync('npx', ['vite', 'build', '--outDir', OUT, '--emptyOutDir', '--logLevel', 'error'], {
    cwd: SITE, encoding: 'utf8', env: { ...process.env, VITE_CLERK_PUBLISHABLE_KEY: PK, VITE_API_URL: api, VITE_DEMO_MODE: '' },
  });
  assert.equal(r.status, 0, r.stderr);

  siteServer = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, site).pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(OUT, path);
    if (!file.startsWith(OUT) || !existsSync(file) || statSync(file).isDirectory()) file = join(OUT, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-security-policy': csp });
    res.end(readFileSync(file));
  }).listen(Number(SITE_PORT), '127.0.0.1');
  apiServer = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': site });
    res.end(JSON.stringify({ message: 'public', path: req.url }));
  }).listen(Number(API_PORT), '127.0.0.1');

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  siteServer?.close();
  apiServer?.close();
});

test("the template's CSP lets the production build run, call this stack's API, and nothing else", async () => {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
  });
  // Offline, Clerk's Frontend API cannot be reached: the site says sign-in could not load (its own
  // script ran under the policy) or is still waiting for Clerk; either way not a blank page.
  await page.goto(site);
  await page.waitForFunction(() => !document.querySelector('#app')?.textContent?.includes('Loading…'), null, { timeout: 60_000 }).catch(() => {});
  const styled = await page.evaluate(() => getComputedStyle(document.body).display);
  assert.equal(styled, 'flex', "the site's stylesheet applied");
  assert.deepEqual(await page.evaluate(() => window.__violations), [], 'the site itself needs nothing the CSP refuses');

  const result = await page.evaluate(async ({ api }) => {
    const tryFetch = async (url) => { try { await fetch(url); return 'allowed'; } catch { return 'refused'; } };
    const tryScript = (src) => new Promise((resolve) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => resolve('loaded');
      s.onerror = () => resolve('refused');
      document.head.append(s);
    });
    return {
      ownApi: await tryFetch(`${api}/api/public`),
      otherApi: await tryFetch('https://abcdef1234.execute-api.us-east-1.amazonaws.com/api/public'),
      otherClerk: await tryFetch('https://evil-app-1.clerk.accounts.dev/v1/environment'),
      otherClerkScript: await tryScript('https://evil-app-1.clerk.accounts.dev/npm/@clerk/clerk-js@5/dist/clerk.browser.js'),
      anyHttps: await tryFetch('https://evil.example/'),
    };
  }, { api });
  assert.equal(result.ownApi, 'allowed', "this stack's API");
  await page.waitForTimeout(200);
  const violations = await page.evaluate(() => window.__violations);
  for (const blocked of ['https://abcdef1234.execute-api.us-east-1.amazonaws.com', 'https://evil-app-1.clerk.accounts.dev', 'https://evil.example']) {
    assert.ok(violations.some((v) => v.startsWith('connect-src') && v.includes(blocked)), `connect-src refuses ${blocked}: ${violations.join(', ')}`);
  }
  assert.ok(violations.some((v) => v.startsWith('script-src') && v.includes('evil-app-1.clerk.accounts.dev')), `script-src refuses another Clerk app: ${violations.join(', ')}`);
  assert.deepEqual({ otherApi: result.otherApi, otherClerk: result.otherClerk, otherClerkScript: result.otherClerkScript, anyHttps: result.anyHttps },
    { otherApi: 'refused', otherClerk: 'refused', otherClerkScript: 'refused', anyHttps: 'refused' });
  await page.close();
});
