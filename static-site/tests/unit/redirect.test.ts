import { describe, expect, it } from 'vitest';
import { safeRedirect } from '../../src/redirect';

const ORIGIN = 'https://site.example';

// Each value as the page reads it: URLSearchParams has already decoded the query once.
const OPEN_REDIRECTS = [
  '/%5Cevil.example',
  '/%5cevil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '/\\/evil.example',
  '//evil.example',
  '///evil.example',
  '//evil.example/protected',
  '/%2F%2Fevil.example',
  '/%2f/evil.example',
  '%2f%5cevil.example',
  '%2F%2Fevil.example',
  '/%252F%252Fevil.example',
  '/%25252F%25252Fevil.example',
  '/%255Cevil.example',
  'https://evil.example',
  'https://evil.example/protected',
  'http:evil.example',
  'HTTPS://evil.example',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  ' javascript:alert(1)',
  'java\tscript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'evil.example',
  '/%09/evil.example',
  '/\t/evil.example',
  '/\n/evil.example',
  '/%0a/evil.example',
  '/%0D/evil.example',
  '/%00/evil.example',
  '/\u0000/evil.example',
  '/%7f/evil.example',
  ' //evil.example',
  '/ /evil.example',
  '/%20/evil.example',
  '/%E0%A4%A',
  '/%',
  '/protected\\..\\',
];

// Dot segments: the URL parser removes `.` and `..` (also as %2e), so a value whose every decoding
// is a fine path can still resolve to a protocol-relative one (`/.//evil.example` is
// `//evil.example`). Each of these must end up same-origin, after any number of decodings.
const DOT_SEGMENTS = [
  '/.//evil.example',
  '/%2e//evil.example',
  '/%2E//evil.example',
  '/a/..//evil.example',
  '/%2E%2E//evil.example',
  '/%2e%2e//evil.example',
  '/.%2e//evil.example',
  '/%2e.//evil.example',
  '/..//evil.example',
  '/a/b/../..//evil.example',
  '/a/%2e%2e/%2E%2E//evil.example',
  '/%2e/%2fevil.example',
  '/./%2fevil.example',
  '/./%2Fevil.example',
  '/./%5cevil.example',
  '/./%252fevil.example',
  '/%2e/%252fevil.example',
  '/..%2f/evil.example',
  '/..%2F/evil.example',
  '/.%2f/evil.example',
  '/%2e%2f/evil.example',
  '/%2e%2e%2f%2fevil.example',
  '/.%252f/evil.example',
  '/%252e//evil.example',
  '/%252e%252e//evil.example',
  '/%25252e//evil.example',
  '/a/%252e%252e/%252fevil.example',
  '/.//evil.example?x=1#y',
  '/.//evil.example/protected',
  '/./',
  '/.',
  '/..',
  '/%2e%2e/',
  '/%2e',
  '\\.',
  '\\..',
  '/\\.',
  '/.\\/evil.example',
  '/%2e%5c/evil.example',
  '/./\\evil.example',
];

// The ones that came out protocol-relative (or one decoding away from it).
const DOT_REDIRECTS = [
  '/.//evil.example',
  '/%2e//evil.example',
  '/a/..//evil.example',
  '/%2E%2E//evil.example',
  '/%2e/%2fevil.example',
  '/..%2f/evil.example',
  '/%2e%2e%2f%2fevil.example',
  '/%252e//evil.example',
  '/.//evil.example?x=1#y',
];

/** `s` as the URL parser resolves it (what a browser or Clerk would navigate to). */
function resolved(s: string): string {
  const url = new URL(s, ORIGIN);
  return `${url.pathname}${url.search}${url.hash}`;
}

/** The result, and each of its decodings, and each of those resolved: a path of this origin. */
function expectSameOriginEverywhere(result: string, input: string) {
  let current = result;
  for (let i = 0; i < 10; i++) {
    for (const s of [current, resolved(current)]) {
      const what = `${JSON.stringify(input)} -> ${JSON.stringify(result)}: ${JSON.stringify(s)}`;
      expect(s.startsWith('/'), what).toBe(true);
      expect(s.startsWith('//'), what).toBe(false);
      expect(s.includes('\\'), what).toBe(false);
      expect(new URL(s, ORIGIN).origin, what).toBe(ORIGIN);
    }
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      break;
    }
    if (next === current) break;
    current = next;
  }
  // A fixed point: resolving what is returned changes nothing.
  expect(resolved(result), input).toBe(result);
}

describe('redirect_url guard', () => {
  it.each(DOT_REDIRECTS)('refuses the dot-segment redirect %j (falls back to /)', (value) => {
    expect(safeRedirect(value, ORIGIN)).toBe('/');
  });

  it.each(DOT_SEGMENTS)('%j ends up same-origin after any number of decodings', (value) => {
    expectSameOriginEverywhere(safeRedirect(value, ORIGIN), value);
  });

  it.each(OPEN_REDIRECTS)('%j ends up same-origin after any number of decodings', (value) => {
    expectSameOriginEverywhere(safeRedirect(value, ORIGIN), value);
  });

  it('every path of up to four segments of dots, slashes and their encodings ends up same-origin', () => {
    const parts = ['', '.', '..', '%2e', '%2E%2e', '%2f', '%252f', '%252e', '%5c', 'a', 'evil.example'];
    let n = 0;
    const walk = (path: string, depth: number) => {
      const result = safeRedirect(path, ORIGIN);
      expectSameOriginEverywhere(result, path);
      n++;
      if (depth < 4) for (const p of parts) walk(`${path}/${p}`, depth + 1);
    };
    walk('', 0);
    expect(n).toBeGreaterThan(10000);
  }, 60_000);

  it.each([
    ['/a/./b', '/a/b'],
    ['/./protected', '/protected'],
    ['/a/../protected', '/protected'],
    ['/%2e/protected', '/protected'],
  ])('resolves the harmless dot segments of %j', (value, expected) => {
    expect(safeRedirect(value, ORIGIN)).toBe(expected);
  });

  it.each(OPEN_REDIRECTS)('refuses %j (falls back to /)', (value) => {
    expect(safeRedirect(value, ORIGIN)).toBe('/');
  });

  it.each([
    ['/protected', '/protected'],
    ['/protected?x=1#y', '/protected?x=1#y'],
    ['/', '/'],
    ['/protected?next=%2Fprofile', '/protected?next=%2Fprofile'],
  ])('keeps the same-origin path %j', (value, expected) => {
    expect(safeRedirect(value, ORIGIN)).toBe(expected);
  });

  it('falls back to / when there is no value', () => {
    expect(safeRedirect(null, ORIGIN)).toBe('/');
    expect(safeRedirect('', ORIGIN)).toBe('/');
  });

  it('every payload that a plain "starts with / but not //" check lets through is refused', () => {
    const naive = (v: string) => v.startsWith('/') && !v.startsWith('//');
    const slipped = OPEN_REDIRECTS.filter(naive);
    expect(slipped.length).toBeGreaterThan(10);
    for (const v of slipped) expect(safeRedirect(v, ORIGIN), v).toBe('/');
  });
});
