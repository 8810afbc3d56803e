import { createHash, createHmac } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../store/transaction.js';
import { type Checkpoint, checkpointSignedWith } from './checkpoint.js';

export type AuditKind =
  | 'command'
  | 'preview'
  | 'approval_requested'
  | 'approved'
  | 'rejected'
  | 'expired'
  | 'lapsed'
  | 'execution_started'
  | 'execution_finished'
  | 'outcome_unknown'
  | 'verification'
  | 'manual_step'
  | 'refused'
  | 'incident_declared'
  | 'incident_updated'
  | 'incident_resolved'
  | 'incident_timer';

export interface AuditEventInput {
  kind: AuditKind;
  /** Slack user id, or 'runbook-bot'. */
  actor: string;
  target?: string;
  runId?: string;
  requestId?: string;
  incidentId?: string;
  /** What happened: sql, params, plan hash, result, reason… (stored as jsonb). */
  data: Record<string, unknown>;
  /** Where the event is mirrored: the run's (or incident's) root message thread. */
  mirror?: { channel: string; threadTs?: string };
}

export interface AuditEvent extends Omit<AuditEventInput, 'mirror'> {
  seq: number;
  at: Date;
  prevHash: string;
  hash: string;
}

export type VerifyResult =
  | { ok: true; events: number }
  /**
   * `events` is how many rows were intact before the first broken link. `needsKey`: the
   * chain could not be checked because its rows (or the checkpoint) are keyed and no
   * AUDIT_HMAC_KEY was given; nothing is known to be wrong. `forgedCheckpoint`: the
   * checkpoint given is not the bot's (the chain was not looked at).
   */
  | { ok: false; events: number; brokenAt: number; reason: string; needsKey?: true; forgedCheckpoint?: true };

/**
 * How a row's hash was made: `sha256` anyone can recompute (so anyone who can write the
 * table can re-hash a changed chain); `hmac-sha256` needs AUDIT_HMAC_KEY, which lives only
 * in the bot's and the verifier's environment.
 */
type VerifyFailure = Extract<VerifyResult, { ok: false }>;

export type HashScheme = 'sha256' | 'hmac-sha256';

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

/**
 * Serializes appends across every process on the state database: one chain needs each
 * append to see the one before it committed. Any constant works; this one is only ours.
 */
const CHAIN_LOCK = 7_301_500_913;

/**
 * `at` in the hash is the stored timestamptz printed in UTC with microseconds. JS Dates
 * keep milliseconds only, so appending and verifying both take the text from Postgres.
 */
const AT_TEXT = `to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const atText = (expression: string) => AT_TEXT.replace('%s', expression);

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

/** The fields a hash covers, exactly as stored (absent ids are null). */
export interface HashedContent {
  seq: number;
  /** ISO 8601 in UTC with microseconds, e.g. 2024-11-27T10:15:03.123456Z. */
  at: string;
  kind: string;
  actor: string;
  target: string | null;
  runId: string | null;
  requestId: string | null;
  incidentId: string | null;
  data: unknown;
}

/**
 * sha256(prevHash + '\n' + canonicalJson(content)), hex; with a key, HMAC-SHA256 of the same
 * input under that key.
 */
export function hashEvent(prevHash: string, content: HashedContent, hmacKey?: string): string {
  const input = `${prevHash}\n${canonicalJson(content)}`;
  return (hmacKey ? createHmac('sha256', hmacKey) : createHash('sha256')).update(input).digest('hex');
}

interface EventRow {
  seq: string;
  at: Date;
  at_text: string;
  kind: AuditKind;
  actor: string;
  target: string | null;
  run_id: string | null;
  request_id: string | null;
  incident_id: string | null;
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  hash_scheme: HashScheme;
}

const EVENT_COLUMNS = `e.seq, e.at, ${atText('e.at')} AS at_text, e.kind, e.actor, e.target, e.run_id,
  e.request_id, e.incident_id, e.data, e.prev_hash, e.hash, e.hash_scheme`;

function toEvent(row: EventRow): AuditEvent {
  return {
    seq: Number(row.seq),
    at: row.at,
    kind: row.kind,
    actor: row.actor,
    ...(row.target !== null ? { target: row.target } : {}),
    ...(row.run_id !== null ? { runId: row.run_id } : {}),
    ...(row.request_id !== null ? { requestId: row.request_id } : {}),
    ...(row.incident_id !== null ? { incidentId: row.incident_id } : {}),
    data: row.data,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function contentOf(row: EventRow): HashedContent {
  return {
    seq: Number(row.seq),
    at: row.at_text,
    kind: row.kind,
    actor: row.actor,
    target: row.target,
    runId: row.run_id,
    requestId: row.request_id,
    incidentId: row.incident_id,
    data: row.data,
  };
}

// Lone UTF-16 surrogates and NUL are valid in JS strings but rejected by jsonb; an audit
// append must not fail (and roll back the change it records) over an odd error message.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
function jsonbSafe(_key: string, value: unknown): unknown {
  return typeof value === 'string'
    ? value.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD')
    : value;
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
    // A statement of its own: under READ COMMITTED the next statement's snapshot is taken
    // after the lock is granted, so it sees the previous append's committed row.
    await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    const dataJson = JSON.stringify(event.data, jsonbSafe);
    // `data` goes through jsonb and back before it is hashed, so the hash covers exactly
    // what verify() will read (jsonb normalizes numbers and drops duplicate keys).
    const { rows } = await client.query<{
      seq: string | null;
      hash: string | null;
      at: string;
      data: unknown;
    }>(
      `SELECT last.seq, last.hash, ${atText('clock_timestamp()')} AS at, $1::jsonb AS data
         FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS last ON true`,
      [dataJson],
    );
    const head = rows[0]!;
    const prevHash = head.hash ?? GENESIS_HASH;
    const content: HashedContent = {
      seq: Number(head.seq ?? 0) + 1,
      at: head.at,
      kind: event.kind,
      actor: event.actor,
      target: event.target ?? null,
      runId: event.runId ?? null,
      requestId: event.requestId ?? null,
      incidentId: event.incidentId ?? null,
      data: head.data,
    };
    const hash = hashEvent(prevHash, content, this.hmacKey);
    const scheme: HashScheme = this.hmacKey ? 'hmac-sha256' : 'sha256';
    const inserted = await client.query<EventRow>(
      `INSERT INTO audit_events AS e (seq, at, kind, actor, target, run_id, request_id, incident_id, data,
                                      prev_hash, hash, hash_scheme)
       VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12)
       RETURNING ${EVENT_COLUMNS}`,
      [
        content.seq,
        content.at,
        content.kind,
        content.actor,
        content.target,
        content.runId,
        content.requestId,
        content.incidentId,
        dataJson,
        prevHash,
        hash,
        scheme,
      ],
    );
    if (event.mirror) {
      await client.query('INSERT INTO audit_outbox (seq, channel, thread_ts) VALUES ($1, $2, $3)', [
        content.seq,
        event.mirror.channel,
        event.mirror.threadTs ?? null,
      ]);
    }
    return toEvent(inserted.rows[0]!);
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
      const { rows } = await this.db.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM audit_events AS e WHERE e.seq >= $1 ORDER BY e.seq LIMIT ${BATCH}`,
        [expectedSeq],
      );
      for (const row of rows) {
        const seq = Number(row.seq);
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
        if (row.prev_hash !== prevHash) {
          return broken(
            seq === 1
              ? 'prev_hash of the first event is not the genesis hash'
              : `prev_hash does not match the hash of seq ${seq - 1}`,
          );
        }
        if (row.hash_scheme === 'hmac-sha256') {
          firstKeyed ??= seq;
          if (!key)
            return broken(
              `seq ${seq} onwards are hashed with AUDIT_HMAC_KEY: set it to verify them (${seq - 1} events before it are intact)`,
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
        const keyForRow = row.hash_scheme === 'hmac-sha256' ? key : undefined;
        if (hashEvent(prevHash, contentOf(row), keyForRow) !== row.hash) {
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
          reason: `${taken} counted ${checkpoint.count} events, the log has ${events}: ${gone} removed from the end`,
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

  /** The chain's head for a checkpoint: event count, newest hash, first keyed seq. */
  /** `db`: a connection the caller holds, so it needs no second one (the checkpointer's). */
  async head(db: Pick<pg.ClientBase, 'query'> = this.db): Promise<ChainHead> {
    const { rows } = await db.query<{
      seq: string | null;
      hash: string | null;
      keyed_from: string | null;
    }>(
      `SELECT last.seq, last.hash,
              (SELECT seq FROM audit_events WHERE hash_scheme = 'hmac-sha256' ORDER BY seq LIMIT 1) AS keyed_from
         FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS last ON true`,
    );
    const row = rows[0]!;
    return {
      count: Number(row.seq ?? 0),
      head: row.hash ?? GENESIS_HASH,
      keyedFrom: row.keyed_from === null ? null : Number(row.keyed_from),
    };
  }

  /**
   * Events at or after `since` as JSON lines in seq order. Each line carries `at` with
   * microseconds, `prevHash`, `hash` and `hashScheme`, so a copy can be checked without the
   * database: hash = sha256(prevHash + '\n' + canonicalJson(the line without prevHash, hash
   * and hashScheme)), or HMAC-SHA256 of the same under AUDIT_HMAC_KEY when hashScheme is
   * hmac-sha256.
   */
  async exportSince(since: Date, write: (line: string) => void): Promise<number> {
    let after = 0;
    let count = 0;
    for (;;) {
      const { rows } = await this.db.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM audit_events AS e
          WHERE e.at >= $1 AND e.seq > $2 ORDER BY e.seq LIMIT ${BATCH}`,
        [since, after],
      );
      for (const row of rows) {
        write(
          JSON.stringify({
            ...contentOf(row),
            prevHash: row.prev_hash,
            hash: row.hash,
            hashScheme: row.hash_scheme,
          }),
        );
        after = Number(row.seq);
        count += 1;
      }
      if (rows.length < BATCH) return count;
    }
  }

  /** An incident's trail: its own events and those of the runs started in its channel, in order. */
  async incidentEvents(incidentId: string): Promise<AuditEvent[]> {
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM audit_events AS e
        WHERE e.incident_id = $1 OR e.run_id IN (SELECT id FROM procedure_runs WHERE incident_id = $1)
        ORDER BY e.seq`,
      [incidentId],
    );
    return rows.map(toEvent);
  }

  /** The oldest event of a thread not mirrored yet (up to `upToSeq`): mirrors post in order, one at a time. */
  async nextToMirror(
    channel: string,
    threadTs: string | null,
    upToSeq: number,
  ): Promise<AuditEvent | undefined> {
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS}
         FROM audit_outbox AS o JOIN audit_events AS e ON e.seq = o.seq
        WHERE o.channel = $1 AND coalesce(o.thread_ts, '') = coalesce($2, '')
          AND o.posted_ts IS NULL AND o.seq <= $3
        ORDER BY o.seq
        LIMIT 1`,
      [channel, threadTs, upToSeq],
    );
    return rows[0] ? toEvent(rows[0]) : undefined;
  }

  /**
   * Takes the oldest unposted event of a thread (up to `upToSeq`) for posting, under a lease
   * of `seconds` rather than a lock held through the Slack call. 'busy' while another job
   * holds that event's lease (only the oldest is ever posted, so order holds); 'none' when
   * nothing is left. The lease is decided on the row as a concurrent taker left it.
   */
  async takeToMirror(
    thread: { channel: string; threadTs: string | null; upToSeq: number },
    holder: string,
    seconds: number,
  ): Promise<AuditEvent | 'busy' | 'none'> {
    const free = 'coalesce(o.posting_until IS NULL OR o.posting_until < now() OR o.posting_by = $4, false)';
    for (;;) {
      const { rows } = await this.db.query<EventRow & { taken: boolean }>(
        `WITH next AS (
           SELECT seq FROM audit_outbox
            WHERE channel = $1 AND coalesce(thread_ts, '') = coalesce($2, '') AND posted_ts IS NULL AND seq <= $3
            ORDER BY seq LIMIT 1
         ), taken AS (
           UPDATE audit_outbox AS o
              SET posting_by = CASE WHEN ${free} THEN $4 ELSE o.posting_by END,
                  posting_until = CASE WHEN ${free} THEN now() + make_interval(secs => $5) ELSE o.posting_until END
             FROM next WHERE o.seq = next.seq AND o.posted_ts IS NULL
           RETURNING o.seq, o.posting_by = $4 AS taken
         )
         SELECT ${EVENT_COLUMNS}, taken.taken FROM taken JOIN audit_events AS e ON e.seq = taken.seq`,
        [thread.channel, thread.threadTs, thread.upToSeq, holder, seconds],
      );
      const row = rows[0];
      if (row) return row.taken ? toEvent(row) : 'busy';
      // Nothing taken: nothing left, or the event was posted between the two parts; look again.
      if (!(await this.nextToMirror(thread.channel, thread.threadTs, thread.upToSeq))) return 'none';
    }
  }

  /** Gives back an event's posting lease after a failed post, for the retry. */
  async releaseMirror(seq: number, holder: string): Promise<void> {
    await this.db.query(
      'UPDATE audit_outbox SET posting_by = NULL, posting_until = NULL WHERE seq = $1 AND posting_by = $2',
      [seq, holder],
    );
  }

  markMirrored(seq: number, postedTs: string): Promise<void> {
    return this.db
      .query(
        `UPDATE audit_outbox SET posted_ts = $2, posted_at = now(), posting_by = NULL, posting_until = NULL
          WHERE seq = $1`,
        [seq, postedTs],
      )
      .then(() => undefined);
  }
}

function short(hash: string | undefined): string {
  return hash ? `${hash.slice(0, 12)}…` : '(no row)';
}
