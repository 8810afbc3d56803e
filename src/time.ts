import { tz } from '@date-fns/tz';
import { format } from 'date-fns/format';

/** "2026-11-24 10:05 GMT+1": incident times in the configured zone, with its offset. */
export function formatInTimeZone(at: Date, timeZone: string): string {
  return format(at, 'yyyy-MM-dd HH:mm zzz', { in: tz(timeZone) });
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
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
