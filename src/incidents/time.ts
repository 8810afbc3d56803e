import { tz } from '@date-fns/tz';
import { format } from 'date-fns';

/** "2026-11-24 10:05 CET": incident times in the configured zone, with its abbreviation. */
export function formatInTimeZone(at: Date, timeZone: string): string {
  return format(at, 'yyyy-MM-dd HH:mm zzz', { in: tz(timeZone) });
}
