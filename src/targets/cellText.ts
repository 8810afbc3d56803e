import type { CustomTypesConfig } from 'pg';
import { redactText } from '../redact.js';
import { clip } from '../text.js';

/**
 * pg's per-query `types` that keep every column as the server's own text output: what psql
 * prints. Parsed, an interval becomes an object, a timestamptz a Date without its zone or
 * microseconds, a boolean true/false; the server's text keeps all of it as the target
 * itself writes it (its TimeZone, IntervalStyle, bytea_output). Used for rows shown to
 * people as they came (check results, DML samples, action output), never where code
 * computes with the values.
 */
export const SERVER_TEXT: CustomTypesConfig = {
  getTypeParser: (() => (text: string) => text) as unknown as CustomTypesConfig['getTypeParser'],
};

/**
 * A value read from a target, as text for people, the one renderer for every medium (Slack,
 * the console, the terminal, reports, the audit): a row read with {@link SERVER_TEXT} as
 * the server wrote it; a value pg parsed (health evidence, older rows) as psql would show
 * it (`t`/`f`, `{1,2}`, `00:04:51.5`, `2026-11-24 10:00:00+00`, `\x6162`, `{"a": 1}`).
 * NULL is spelled out (`nullText`), secrets are scrubbed, and at most `max` characters kept.
 */
export function cellText(value: unknown, max = Number.POSITIVE_INFINITY, nullText = 'NULL'): string {
  if (value === null || value === undefined) return nullText;
  return clip(redactText(valueText(value)), max);
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return timestampText(value);
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (Array.isArray(value)) return arrayText(value);
  if (isInterval(value)) return intervalText(value);
  return jsonbText(value);
}

/** A Date, which lost its zone when parsed, as a timestamptz in UTC; fractions without trailing zeros. */
function timestampText(at: Date): string {
  if (Number.isNaN(at.getTime())) return 'invalid date';
  const iso = at.toISOString();
  const fraction = iso.slice(19, 23).replace(/\.?0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction}+00`;
}

/** `{1,2,NULL,"a b"}`: quoted where the server quotes (empty, NULL, blanks, delimiters). */
function arrayText(values: unknown[]): string {
  const element = (item: unknown): string => {
    if (item === null || item === undefined) return 'NULL';
    if (Array.isArray(item)) return arrayText(item);
    const text = valueText(item);
    return text === '' || /^null$/i.test(text) || /[{}",\\\s]/.test(text)
      ? `"${text.replace(/["\\]/g, '\\$&')}"`
      : text;
  };
  return `{${values.map(element).join(',')}}`;
}

interface Interval {
  years?: number;
  months?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
  milliseconds?: number;
}

/** What pg-types makes of an interval (postgres-interval): an object that writes itself back. */
function isInterval(value: unknown): value is Interval {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toPostgres?: unknown }).toPostgres === 'function'
  );
}

/** IntervalStyle postgres, the default: `1 year 2 mons 3 days 04:05:06.5`, `00:00:00` when empty. */
function intervalText(interval: Interval): string {
  // The server says "-1 days": only +1 is singular.
  const unit = (count: number | undefined, one: string, many: string) =>
    count ? `${count} ${count === 1 ? one : many}` : '';
  const micros = Math.round(
    (((interval.hours ?? 0) * 60 + (interval.minutes ?? 0)) * 60 + (interval.seconds ?? 0)) * 1e6 +
      (interval.milliseconds ?? 0) * 1e3,
  );
  const dateParts = [
    unit(interval.years, 'year', 'years'),
    unit(interval.months, 'mon', 'mons'),
    unit(interval.days, 'day', 'days'),
  ].filter(Boolean);
  if (micros === 0 && dateParts.length > 0) return dateParts.join(' ');
  const abs = Math.abs(micros);
  const seconds = Math.floor(abs / 1e6) % 60;
  const fraction = String(abs % 1e6)
    .padStart(6, '0')
    .replace(/0+$/, '');
  const pad = (n: number) => String(n).padStart(2, '0');
  // The server marks a time part whose sign differs from what came before it with + or -.
  const sign = micros < 0 ? '-' : dateParts.some((part) => part.startsWith('-')) ? '+' : '';
  const time = `${sign}${pad(Math.floor(abs / 3.6e9))}:${pad(Math.floor(abs / 6e7) % 60)}:${pad(seconds)}${fraction ? `.${fraction}` : ''}`;
  return [...dateParts, time].join(' ');
}

/** JSON as jsonb writes it: `{"a": 1, "b": [1, 2]}`. */
function jsonbText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jsonbText).join(', ')}]`;
  if (typeof value === 'object' && value !== null)
    return `{${Object.entries(value)
      .map(([key, inner]) => `${JSON.stringify(key)}: ${jsonbText(inner)}`)
      .join(', ')}}`;
  return JSON.stringify(value) ?? 'null';
}
