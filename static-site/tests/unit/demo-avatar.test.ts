import { describe, expect, it } from 'vitest';
import { demoAvatar } from '../../src/demo-client';

describe('demo avatar', () => {
  it('is drawn locally: a data URI, never a URL on the internet', () => {
    const src = demoAvatar({ id: 'user_demoAlice', name: 'Alice Anders' });
    expect(src.startsWith('data:image/svg+xml')).toBe(true);
    const svg = decodeURIComponent(src.slice(src.indexOf(',') + 1));
    expect(svg).toContain('>AA</text>');
    expect(svg).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('keeps markup out of the initials', () => {
    const svg = decodeURIComponent(demoAvatar({ id: 'x', name: '<script> &x' }).split(',')[1]);
    expect(svg).not.toContain('<script');
    expect(svg).toContain('>SX</text>');
    expect(decodeURIComponent(demoAvatar({ id: 'x', name: '' }).split(',')[1])).toContain('>?</text>');
  });
});
