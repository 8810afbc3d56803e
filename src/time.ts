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

/**
 * How long a run took, one way in the terminal and Slack alike: "230 ms" under a second,
 * "4.0 s" under a minute (a tenth of a second is what a reader compares runs by), then
 * "2 min 5 s" and "1 h 3 min".
 */
export function formatDuration(ms: number): string {
  if (ms < 999.5) return `${Math.max(0, Math.round(ms))} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
