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

describe('redirect_url guard', () => {
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
