import { createHmac, timingSafeEqual } from 'node:crypto';
import { UserError } from '../errors.js';

/**
 * A checkpoint of the audit chain's head, as the bot posts it to Slack:
 *
 *   audit-checkpoint v1 count=123 head=<64 hex> keyed-from=<seq|none> at=<ISO time> mac=<64 hex|none>
 *
 * `count` and `head` are the number of events and the newest event's hash when it was taken;
 * `keyed-from` is the first event hashed with AUDIT_HMAC_KEY (`none`: no keyed event yet), so
 * `audit verify` knows which older rows may be unkeyed. `mac` is HMAC-SHA256 of everything
 * before ` mac=` under AUDIT_HMAC_KEY, or `none` when the bot has no key.
 */
export interface Checkpoint {
  count: number;
  head: string;
  keyedFrom: number | null;
  at: string;
  mac: string | null;
}

export const CHECKPOINT_PREFIX = 'audit-checkpoint v1';

const HEX64 = /^[0-9a-f]{64}$/;

function unsignedLine(checkpoint: Omit<Checkpoint, 'mac'>): string {
  const keyedFrom = checkpoint.keyedFrom ?? 'none';
  return `${CHECKPOINT_PREFIX} count=${checkpoint.count} head=${checkpoint.head} keyed-from=${keyedFrom} at=${checkpoint.at}`;
}

function macOf(key: string, checkpoint: Omit<Checkpoint, 'mac'>): string {
  return createHmac('sha256', key).update(unsignedLine(checkpoint)).digest('hex');
}

/** The checkpoint, signed when there is a key. */
export function makeCheckpoint(head: Omit<Checkpoint, 'mac'>, key: string | undefined): Checkpoint {
  return { ...head, mac: key ? macOf(key, head) : null };
}

export function formatCheckpoint(checkpoint: Checkpoint): string {
  return `${unsignedLine(checkpoint)} mac=${checkpoint.mac ?? 'none'}`;
}

/** Whether the checkpoint's MAC is the one `key` makes (constant time). */
export function checkpointSignedWith(checkpoint: Checkpoint, key: string): boolean {
  if (!checkpoint.mac) return false;
  const expected = Buffer.from(macOf(key, checkpoint), 'hex');
  const given = Buffer.from(checkpoint.mac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Reads a checkpoint as copied from Slack: the line may sit inside other text, in a code
 * span (backticks) or with Slack's `&lt;`-style escapes; only the fields are read.
 */
export function parseCheckpoint(text: string): Checkpoint {
  const start = text.indexOf(CHECKPOINT_PREFIX);
  const example = `${CHECKPOINT_PREFIX} count=123 head=<64 hex> keyed-from=1 at=2026-12-07T03:00:00.000Z mac=<64 hex>`;
  if (start < 0)
    throw new UserError(
      `--checkpoint must be a checkpoint line as the bot posted it ("${example}"), got "${text.slice(0, 80)}"`,
    );
  const fields = new Map<string, string>();
  for (const token of text
    .slice(start + CHECKPOINT_PREFIX.length)
    .replaceAll('`', ' ')
    .split(/\s+/)) {
    const eq = token.indexOf('=');
    if (eq > 0) fields.set(token.slice(0, eq), token.slice(eq + 1));
  }
  const problems: string[] = [];
  const field = (name: string) => {
    const value = fields.get(name);
    if (value === undefined) problems.push(`${name}= is missing`);
    return value ?? '';
  };
  const count = field('count');
  const head = field('head').toLowerCase();
  const keyedFrom = field('keyed-from');
  const at = field('at');
  const mac = field('mac').toLowerCase();
  if (count && !/^\d+$/.test(count)) problems.push(`count must be a whole number, got "${count}"`);
  if (head && !HEX64.test(head)) problems.push('head must be 64 hex digits');
  if (keyedFrom && keyedFrom !== 'none' && !/^\d+$/.test(keyedFrom))
    problems.push(`keyed-from must be a seq or none, got "${keyedFrom}"`);
  if (at && Number.isNaN(Date.parse(at))) problems.push(`at must be an ISO time, got "${at}"`);
  if (mac && mac !== 'none' && !HEX64.test(mac)) problems.push('mac must be 64 hex digits or none');
  if (problems.length > 0)
    throw new UserError(
      `--checkpoint is not a checkpoint line: ${problems.join('; ')}. Expected "${example}".`,
    );
  return {
    count: Number(count),
    head,
    keyedFrom: keyedFrom === 'none' ? null : Number(keyedFrom),
    at,
    mac: mac === 'none' ? null : mac,
  };
}
