import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../src/health/units.js';

describe('formatDuration', () => {
  it('says a run duration one way: ms under a second, tenths of seconds under a minute, then min and h', () => {
    expect(formatDuration(0)).toBe('0 ms');
    expect(formatDuration(7)).toBe('7 ms');
    expect(formatDuration(230.4)).toBe('230 ms');
    expect(formatDuration(999)).toBe('999 ms');
    expect(formatDuration(999.7)).toBe('1.0 s');
    expect(formatDuration(4002)).toBe('4.0 s');
    expect(formatDuration(4050)).toBe('4.1 s');
    expect(formatDuration(59_940)).toBe('59.9 s');
    expect(formatDuration(59_960)).toBe('1 min 0 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(3_780_000)).toBe('1 h 3 min');
  });
});
