import { redactText } from '../redact.js';
import { clip } from '../text.js';

/**
 * A value read from a target, as text for people: NULL spelled out, dates in ISO, bytea in
 * Postgres's hex form, JSON as JSON, secrets scrubbed, and at most `max` characters.
 */
export function cellText(value: unknown, max = Number.POSITIVE_INFINITY): string {
  if (value === null || value === undefined) return 'NULL';
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (Buffer.isBuffer(value)) text = `\\x${value.toString('hex')}`;
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  return clip(redactText(text), max);
}
