import { describe, expect, it } from 'vitest';
import { CONFIG_HELP, parsePublishableKey, readConfig } from '../../src/config';

const PK = 'pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk';

describe('publishable key', () => {
  it("accepts Clerk's vectors", () => {
    expect(parsePublishableKey(PK)).toEqual({ frontendApi: 'foo-bar-13.clerk.accounts.dev' });
    expect(parsePublishableKey('pk_test_Y2xlcmsuYm9yaW5nLnNhd2ZseS05MS5sY2wuZGV2JA')).toEqual({ frontendApi: 'clerk.boring.sawfly-91.lcl.dev' });
  });
  it('refuses malformed keys', () => {
    for (const bad of ['pk_live_aW52YWxpZGtleSQ=', 'pk_live_Zm9vLmJhci5jb20kJGV4dHJh', 'pk_live_Zm9vLmJhci5jb20kJA==', 'pk_prod_x', 'hello', 'pk_test_!!!']) {
      expect(parsePublishableKey(bad), bad).toHaveProperty('error');
    }
  });
  it('refuses a secret key with a message that says so', () => {
    const r = parsePublishableKey('sk_test_abcdefghijklmnopqrstuvwxyz');
    expect('error' in r && r.error).toContain('secret key');
  });
});

describe('readConfig', () => {
  it('reads a valid configuration', () => {
    const r = readConfig({ VITE_CLERK_PUBLISHABLE_KEY: PK, VITE_API_URL: 'https://abc.execute-api.us-east-1.amazonaws.com/', VITE_DEMO_MODE: '1' });
    expect(r).toEqual({ ok: true, config: { publishableKey: PK, frontendApi: 'foo-bar-13.clerk.accounts.dev', apiUrl: 'https://abc.execute-api.us-east-1.amazonaws.com', demo: true } });
  });
  it('defaults to the same origin and no demo', () => {
    const r = readConfig({ VITE_CLERK_PUBLISHABLE_KEY: PK });
    expect(r.ok && r.config.apiUrl).toBe('');
    expect(r.ok && r.config.demo).toBe(false);
  });
  it('says what to set when the key is missing', () => {
    const r = readConfig({});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems[0]).toMatch(/VITE_CLERK_PUBLISHABLE_KEY is not set/);
  });
  it('says where the key goes for `make dev` (the root .env) and for the site alone', () => {
    const r = readConfig({});
    expect(!r.ok && r.problems[0]).toMatch(/VITE_CLERK_PUBLISHABLE_KEY is not set/);
    const text = [...(!r.ok ? r.problems : []), ...CONFIG_HELP].join(' ');
    // make dev reads the repository's root .env (CLERK_PUBLISHABLE_KEY) and hands it to Vite.
    expect(CONFIG_HELP[0]).toContain('For make dev: CLERK_PUBLISHABLE_KEY=pk_test_… in the .env at the root of the repository');
    // The site alone: Vite reads VITE_CLERK_PUBLISHABLE_KEY from its environment.
    expect(CONFIG_HELP[1]).toContain('For the site alone: VITE_CLERK_PUBLISHABLE_KEY=pk_test_… (and VITE_API_URL');
    expect(CONFIG_HELP[1]).toContain('in the environment of npm run dev or npm run build in static-site/');
    // Not a file the documented setup never mentions.
    expect(text).not.toContain('.env.local');
  });
  it('lists every problem', () => {
    const r = readConfig({ VITE_CLERK_PUBLISHABLE_KEY: 'pk_live_aW52YWxpZGtleSQ=', VITE_API_URL: 'not a url' });
    expect(!r.ok && r.problems).toHaveLength(2);
  });
});
