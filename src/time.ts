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

/** Whether `zone` is an IANA time zone this runtime knows (Intl is what formats with it). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** "2026-11-24 10:05 UTC": a moment to the minute, for messages that do not know a zone. */
export function utcMinute(at: Date): string {
  return formatInTimeZone(at, 'UTC');
}

const DURATION_UNITS_MS: Array<[RegExp, number]> = [
  [/^(?:s|secs?|seconds?)$/, 1000],
  [/^(?:m|mins?|minutes?)$/, 60_000],
  [/^(?:h|hrs?|hours?)$/, 3_600_000],
  [/^(?:d|days?)$/, 86_400_000],
];

/**
 * A response time as people write it in a severity table or a policy file, in ms:
 * "Immediate" is 0, "< 15 minutes", "Within 30 min", "1h", "24 hours", "Next day" (24 h).
 * Undefined when it names no time ("Post-incident", "Business hours").
 */
export function parseDurationPhrase(phrase: string): number | undefined {
  const text = phrase
    .trim()
    .toLowerCase()
    .replace(/^(?:<=?|≤|under|within|by|after|in)\s*/, '')
    .trim();
  if (/^(?:immediate(?:ly)?|now|asap|at once)$/.test(text)) return 0;
  if (/^next (?:business |working )?day$/.test(text)) return 86_400_000;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(text);
  if (!match) return undefined;
  const unit = DURATION_UNITS_MS.find(([pattern]) => pattern.test(match[2]!));
  return unit ? Math.round(Number(match[1]) * unit[1]) : undefined;
}
