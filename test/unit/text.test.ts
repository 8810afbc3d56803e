import { describe, expect, it } from 'vitest';
import { cellText } from '../../src/targets/cellText.js';
import { clip } from '../../src/text.js';

describe('clip', () => {
  it('cuts with a marker, never between the halves of an emoji', () => {
    expect(clip('abcdef', 6)).toBe('abcdef');
    expect(clip('abcdefg', 6)).toBe('abcde…');
    // '😀' is two UTF-16 units; a cut after its first half would leave invalid text for jsonb.
    const cut = clip(`${'a'.repeat(198)}😀tail`, 200);
    expect(cut).toBe(`${'a'.repeat(198)}…`);
    expect(() => JSON.parse(JSON.stringify(cut))).not.toThrow();
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('cellText', () => {
  it('spells out NULL, dates, bytea and JSON, and cuts when asked', () => {
    expect(cellText(null)).toBe('NULL');
    expect(cellText(new Date('2026-11-24T10:00:00Z'))).toBe('2026-11-24T10:00:00.000Z');
    expect(cellText(Buffer.from('ab'))).toBe('\\x6162');
    expect(cellText({ a: 1 })).toBe('{"a":1}');
    expect(cellText('x'.repeat(300), 200)).toHaveLength(200);
  });
});
