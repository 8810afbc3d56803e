import { createHash, createHmac } from 'node:crypto';
import type pg from 'pg';
import {
  chainHead,
  eventsFrom,
  eventsSince,
  incidentEvents,
  insertEvent,
  lockChainTail,
} from '../store/auditEvents.js';
import { inTransaction } from '../store/transaction.js';
import { plural } from '../text.js';
import { type Checkpoint, checkpointSignedWith } from './checkpoint.js';
import type { AuditEvent, AuditEventInput, HashedContent, HashScheme, StoredAuditEvent } from './events.js';

export type VerifyResult =
  | { ok: true; events: number }
  /**
   * `events` is how many rows were intact before the first broken link. `needsKey`: the
   * chain could not be checked because its rows (or the checkpoint) are keyed and no
   * AUDIT_HMAC_KEY was given; nothing is known to be wrong. `forgedCheckpoint`: the
   * checkpoint given is not the bot's (the chain was not looked at).
   */
  | { ok: false; events: number; brokenAt: number; reason: string; needsKey?: true; forgedCheckpoint?: true };

type VerifyFailure = Extract<VerifyResult, { ok: false }>;

export interface AuditLogOptions {
  /** AUDIT_HMAC_KEY: new rows are hashed with it, and keyed rows can be verified. */
  hmacKey?: string;
}

export interface VerifyOptions {
  /** A checkpoint posted earlier: catches rows removed from the end and a re-hashed chain. */
  checkpoint?: Checkpoint;
  /**
   * With a key, the rows up to this seq may be unkeyed (they were written before the key
   * was set); a signed checkpoint's keyed-from says the same. Without either, an unkeyed
   * row is refused when a key is given: it is what someone without the key would write.
   */
  unkeyedUntil?: number;
}

/** The chain's head, as a checkpoint records it. */
export interface ChainHead {
  count: number;
  head: string;
  keyedFrom: number | null;
}

/** The prev_hash of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

const BATCH = 1000;

/** JSON with object keys sorted (recursively), so equal content always hashes the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * sha256(prevHash + '\n' + canonicalJson(content)), hex; with a key, HMAC-SHA256 of the same
 * input under that key.
 */
export function hashEvent(prevHash: string, content: HashedContent, hmacKey?: string): string {
  const input = `${prevHash}\n${canonicalJson(content)}`;
  return (hmacKey ? createHmac('sha256', hmacKey) : createHash('sha256')).update(input).digest('hex');
}

/**
 * The append-only, hash-chained audit log. The table refuses UPDATE, DELETE and TRUNCATE
 * (a trigger); the chain makes whatever a superuser does anyway visible to `verify()`.
 */
export class AuditLog {
  private readonly hmacKey: string | undefined;

  constructor(
    private readonly db: pg.Pool,
    options: AuditLogOptions = {},
  ) {
    this.hmacKey = options.hmacKey || undefined;
  }

  /**
   * Appends in its own transaction, or inside the caller's when `client` is given (so a
   * state change and its audit row commit together). The caller's client must be inside
   * BEGIN: the chain lock is held until that transaction ends.
   */
  async append(event: AuditEventInput, client?: pg.PoolClient): Promise<AuditEvent> {
    if (client) return this.appendIn(client, event);
    return inTransaction(this.db, (own) => this.appendIn(own, event));
  }

  private async appendIn(client: pg.PoolClient, event: AuditEventInput): Promise<AuditEvent> {
    const tail = await lockChainTail(client, event.data);
    const prevHash = tail.hash ?? GENESIS_HASH;
    const content: HashedContent = {
      seq: tail.seq + 1,
      at: tail.at,
      kind: event.kind,
      actor: event.actor,
      target: event.target ?? null,
      runId: event.runId ?? null,
      requestId: event.requestId ?? null,
      incidentId: event.incidentId ?? null,
      data: tail.data,
    };
    const hash = hashEvent(prevHash, content, this.hmacKey);
    const scheme: HashScheme = this.hmacKey ? 'hmac-sha256' : 'sha256';
    return insertEvent(client, { content, dataJson: tail.dataJson, prevHash, hash, scheme }, event.mirror);
  }

  /**
   * Walks the chain in seq order and names the first broken link: a missing seq, a
   * prev_hash that is not the previous row's hash, or a hash that does not match the row.
   * Alone, that cannot see rows removed from the end, nor a chain someone re-hashed after
   * changing it. Two anchors outside the database can:
   * - AUDIT_HMAC_KEY: keyed rows are checked with it; a row hashed without it where a keyed
   *   one is due (after a keyed row, or beyond `unkeyedUntil` / the checkpoint's keyed-from)
   *   is what someone without the key would write, and is refused.
   * - a checkpoint posted to Slack: the log must still hold `count` events and the event at
   *   `count` must still have that hash; a signed checkpoint must carry this key's MAC.
   */
  async verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    const key = this.hmacKey;
    const { checkpoint } = options;
    let unkeyedUntil = options.unkeyedUntil;
    if (checkpoint?.mac) {
      if (!key)
        return {
          ok: false,
          events: 0,
          brokenAt: checkpoint.count,
          needsKey: true,
          reason: 'the checkpoint is signed: set AUDIT_HMAC_KEY to the key the bot uses to check it',
        };
      if (!checkpointSignedWith(checkpoint, key))
        return {
          ok: false,
          events: 0,
          brokenAt: checkpoint.count,
          reason:
            "the checkpoint's mac does not match AUDIT_HMAC_KEY: it was altered or made without this key",
          forgedCheckpoint: true,
        };
      // Signed, so its keyed-from is the bot's word on where keyed rows begin: it can narrow
      // what the operator allows, never widen it.
      const bound = checkpoint.keyedFrom === null ? checkpoint.count : checkpoint.keyedFrom - 1;
      unkeyedUntil = Math.min(unkeyedUntil ?? bound, bound);
    }
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let firstKeyed: number | undefined;
    let hashAtCheckpoint: string | undefined;
    for (;;) {
      const rows = await eventsFrom(this.db, expectedSeq, BATCH);
      for (const { event: row, content, hashScheme } of rows) {
        const { seq } = row;
        const broken = (reason: string, extra: { needsKey?: true } = {}): VerifyFailure => ({
          ok: false,
          events: expectedSeq - 1,
          brokenAt: seq,
          reason,
          ...extra,
        });
        if (seq !== expectedSeq) {
          const missing = seq === expectedSeq + 1 ? `seq ${expectedSeq}` : `seqs ${expectedSeq}–${seq - 1}`;
          return { ...broken(`${missing} missing (the next row is seq ${seq})`), brokenAt: expectedSeq };
        }
        if (row.prevHash !== prevHash) {
          return broken(
            seq === 1
              ? 'prev_hash of the first event is not the genesis hash'
              : `prev_hash does not match the hash of seq ${seq - 1}`,
          );
        }
        if (hashScheme === 'hmac-sha256') {
          firstKeyed ??= seq;
          if (!key)
            return broken(
              `seq ${seq} onwards are hashed with AUDIT_HMAC_KEY: set it to verify them (${plural(seq - 1, 'event')} before it ${seq - 1 === 1 ? 'is' : 'are'} intact)`,
              { needsKey: true },
            );
        } else if (key) {
          if (firstKeyed !== undefined)
            return broken(
              `hashed without AUDIT_HMAC_KEY after keyed rows (seq ${firstKeyed} was keyed): rewritten by someone without the key`,
            );
          if (unkeyedUntil === undefined || seq > unkeyedUntil)
            return broken(
              unkeyedUntil === undefined
                ? 'hashed without AUDIT_HMAC_KEY. If the rows up to here were written before the key was set, ' +
                    'pass --unkeyed-until <the last such seq> or a signed --checkpoint; otherwise the chain was re-hashed by someone without the key'
                : `hashed without AUDIT_HMAC_KEY, yet keyed rows begin after seq ${unkeyedUntil}: rewritten by someone without the key`,
            );
        }
        const keyForRow = hashScheme === 'hmac-sha256' ? key : undefined;
        if (hashEvent(prevHash, content, keyForRow) !== row.hash) {
          return broken(
            keyForRow
              ? "hash does not match the row's content under AUDIT_HMAC_KEY (changed, or keyed with another key)"
              : "hash does not match the row's content",
          );
        }
        if (checkpoint && seq === checkpoint.count) hashAtCheckpoint = row.hash;
        prevHash = row.hash;
        expectedSeq = seq + 1;
      }
      if (rows.length < BATCH) break;
    }
    const events = expectedSeq - 1;
    if (checkpoint) {
      const taken = `the checkpoint of ${checkpoint.at}`;
      if (events < checkpoint.count) {
        const gone =
          events + 1 === checkpoint.count
            ? `seq ${checkpoint.count}`
            : `seqs ${events + 1}–${checkpoint.count}`;
        return {
          ok: false,
          events,
          brokenAt: events + 1,
          reason: `${taken} counted ${plural(checkpoint.count, 'event')}, the log has ${events}: ${gone} removed from the end`,
        };
      }
      if (checkpoint.count > 0 && hashAtCheckpoint !== checkpoint.head) {
        return {
          ok: false,
          events: checkpoint.count - 1,
          brokenAt: checkpoint.count,
          reason: `seq ${checkpoint.count} hashes to ${short(hashAtCheckpoint)}, ${taken} says ${short(checkpoint.head)}: the chain up to it was rewritten`,
        };
      }
    }
    return { ok: true, events };
  }

  /**
   * The chain's head for a checkpoint: event count, newest hash, first keyed seq. `db`: a
   * connection the caller holds, so it needs no second one (the checkpointer's).
   */
  async head(db: Pick<pg.ClientBase, 'query'> = this.db): Promise<ChainHead> {
    const head = await chainHead(db);
    return { count: head.count, head: head.hash ?? GENESIS_HASH, keyedFrom: head.keyedFrom };
  }

  /**
   * Events at or after `since`, in seq order, each with the exact content its hash covers
   * (`at` with microseconds) and its scheme, so a copy can be checked without the database
   * (terminal/auditText.ts writes them as JSON lines). Returns how many.
   */
  async readSince(since: Date, each: (stored: StoredAuditEvent) => void): Promise<number> {
    let after = 0;
    let count = 0;
    for (;;) {
      const rows = await eventsSince(this.db, since, after, BATCH);
      for (const stored of rows) {
        each(stored);
        after = stored.event.seq;
        count += 1;
      }
      if (rows.length < BATCH) return count;
    }
  }

  /** An incident's trail: its own events and those of the runs started in its channel, in order. */
  incidentEvents(incidentId: string): Promise<AuditEvent[]> {
    return incidentEvents(this.db, incidentId);
  }
}

function short(hash: string | undefined): string {
  return hash ? `${hash.slice(0, 12)}…` : '(no row)';
}
