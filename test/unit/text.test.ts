import pg from 'pg';
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
  // What pg makes of a value when it parses it (health evidence, rows read before the server's
  // text was kept) reads back as the psql text it was parsed from.
  const parsed = (oid: number, text: string): unknown => pg.types.getTypeParser(oid, 'text')(text);
  it.each([
    [16, 't'],
    [16, 'f'],
    [1186, '00:04:51.123'],
    [1186, '1 year 2 mons 3 days 04:05:06.5'],
    [1186, '3 days'],
    [1186, '-1 days +02:00:00'],
    [1186, '00:00:00'],
    [1184, '2026-11-24 10:05:06.123+00'],
    [1184, '2026-11-24 10:05:06+00'],
    [17, '\\x6162ff'],
    [1007, '{1,2,NULL}'],
    [1009, '{a,"b c","","x\\"y",NULL}'],
    [3802, '{"a": 1, "b": [1, 2], "c": {"d": null}}'],
    [20, '9223372036854775807'],
    [1700, '12345678901234567890.123456789'],
    [701, '0.30000000000000004'],
  ])('type %i: %s', (oid, text) => {
    expect(cellText(parsed(oid, text))).toBe(text);
  });

  it('spells out NULL (or leaves it blank when asked), and cuts when asked', () => {
    expect(cellText(null)).toBe('NULL');
    expect(cellText(undefined, 10, '')).toBe('');
    expect(cellText('x'.repeat(300), 200)).toHaveLength(200);
  });

  it('scrubs a password from a value', () => {
    expect(cellText('postgres://app:s3cret@db/x')).not.toContain('s3cret');
  });
});
