import { describe, expect, it } from 'vitest';
import { formatInTimeZone, utcMinute } from '../../src/time.js';

describe('one way to write a time', () => {
  const winter = new Date('2026-11-24T10:05:00Z');
  const summer = new Date('2026-07-01T10:05:00Z');

  it('writes UTC as UTC wherever it comes from, never GMT+0', () => {
    expect(formatInTimeZone(winter, 'UTC')).toBe('2026-11-24 10:05 UTC');
    expect(formatInTimeZone(winter, 'Etc/UTC')).toBe('2026-11-24 10:05 UTC');
    expect(utcMinute(winter)).toBe(formatInTimeZone(winter, 'UTC'));
  });

  it('names a zone by its abbreviation at that moment, or by its offset from UTC when it has none', () => {
    expect(formatInTimeZone(winter, 'Europe/Berlin')).toBe('2026-11-24 11:05 CET');
    expect(formatInTimeZone(summer, 'Europe/Berlin')).toBe('2026-07-01 12:05 CEST');
    expect(formatInTimeZone(winter, 'Europe/London')).toBe('2026-11-24 10:05 GMT');
    expect(formatInTimeZone(summer, 'America/New_York')).toBe('2026-07-01 06:05 EDT');
    expect(formatInTimeZone(winter, 'Asia/Tokyo')).toBe('2026-11-24 19:05 UTC+9');
    expect(formatInTimeZone(winter, 'Asia/Kolkata')).toBe('2026-11-24 15:35 UTC+5:30');
    expect(formatInTimeZone(winter, 'America/Sao_Paulo')).toBe('2026-11-24 07:05 UTC-3');
  });
});
