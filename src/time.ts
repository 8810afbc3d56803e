import { tz, tzName } from '@date-fns/tz';
import { format } from 'date-fns/format';

/**
 * "2026-11-24 10:05 CET": a moment to the minute as the wall time of `timeZone` with the
 * zone's name, the one way every message, card and report writes a time ("… UTC" in UTC,
 * "UTC+9" where the zone has no abbreviation).
 */
export function formatInTimeZone(at: Date, timeZone: string): string {
  return `${format(at, 'yyyy-MM-dd HH:mm', { in: tz(timeZone) })} ${zoneName(at, timeZone)}`;
}

/**
 * The zone's abbreviation at that moment (UTC, EST, CET, BST), else its offset ("UTC+9").
 * Intl's en-US names many zones only by offset ("GMT+1"); en-GB has the abbreviations Europe
 * uses, so the first name that is not a bare offset wins.
 */
export function zoneName(at: Date, timeZone: string): string {
  const american = tzName(timeZone, at, 'short');
  if (!isOffsetName(american)) return american;
  const british = new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'short' })
    .formatToParts(at)
    .find((part) => part.type === 'timeZoneName')?.value;
  return british && !isOffsetName(british) ? british : utcOffset(at, timeZone);
}

function isOffsetName(name: string): boolean {
  return /^(GMT|UTC)[+\-\u2212]/.test(name);
}

/** "UTC+1", "UTC+5:30", "UTC-3", or "UTC" itself: the zone's offset at that moment. */
export function utcOffset(at: Date, timeZone: string): string {
  const offset = format(at, 'xxx', { in: tz(timeZone) });
  if (offset === '+00:00') return 'UTC';
  const [hours, minutes] = offset.slice(1).split(':');
  return `UTC${offset[0]}${Number(hours)}${minutes === '00' ? '' : `:${minutes}`}`;
}

/** "2026-11-24 10:05 UTC": a moment to the minute, for messages that do not know a zone. */
export function utcMinute(at: Date): string {
  return formatInTimeZone(at, 'UTC');
}
