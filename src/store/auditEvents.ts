import type pg from 'pg';
import type {
  AuditEvent,
  AuditEventInput,
  AuditKind,
  HashedContent,
  HashScheme,
  StoredAuditEvent,
} from '../audit/events.js';

/**
 * The SQL of the audit log (audit_events and the outbox rows appended with them). The
 * chain itself (hashes, verify) is audit/auditLog.ts; this only reads and writes rows.
 */

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Serializes appends across every process on the state database: one chain needs each
 * append to see the one before it committed. Any constant works; this one is only ours.
 */
const CHAIN_LOCK = 7_301_500_913;

/**
 * `at` in the hash is the stored timestamptz printed in UTC with microseconds. JS Dates
 * keep milliseconds only, so appending and verifying both take the text from Postgres.
 */
const atText = (expression: string) =>
  `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export interface EventRow {
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

export const EVENT_COLUMNS = `e.seq, e.at, ${atText('e.at')} AS at_text, e.kind, e.actor, e.target, e.run_id,
  e.request_id, e.incident_id, e.data, e.prev_hash, e.hash, e.hash_scheme`;

export function toEvent(row: EventRow): AuditEvent {
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

function toStored(row: EventRow): StoredAuditEvent {
  return {
    event: toEvent(row),
    content: {
      seq: Number(row.seq),
      at: row.at_text,
      kind: row.kind,
      actor: row.actor,
      target: row.target,
      runId: row.run_id,
      requestId: row.request_id,
      incidentId: row.incident_id,
      data: row.data,
    },
    hashScheme: row.hash_scheme,
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

/** The chain's last row and the next row's time and data, as Postgres will store them. */
export interface ChainTail {
  seq: number;
  hash: string | null;
  at: string;
  data: unknown;
  dataJson: string;
}

/**
 * Takes the chain lock for the caller's transaction (must be inside BEGIN), then reads the
 * last row. `data` goes through jsonb and back, so a hash covers exactly what a later read
 * returns (jsonb normalizes numbers and drops duplicate keys).
 */
export async function lockChainTail(client: pg.PoolClient, data: unknown): Promise<ChainTail> {
  // A statement of its own: under READ COMMITTED the next statement's snapshot is taken
  // after the lock is granted, so it sees the previous append's committed row.
  await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
  const dataJson = JSON.stringify(data, jsonbSafe);
  const { rows } = await client.query<{ seq: string | null; hash: string | null; at: string; data: unknown }>(
    `SELECT last.seq, last.hash, ${atText('clock_timestamp()')} AS at, $1::jsonb AS data
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS last ON true`,
    [dataJson],
  );
  const head = rows[0]!;
  return { seq: Number(head.seq ?? 0), hash: head.hash, at: head.at, data: head.data, dataJson };
}

/** Inserts a hashed row (and its outbox row when it is mirrored), under the chain lock. */
export async function insertEvent(
  client: pg.PoolClient,
  row: { content: HashedContent; dataJson: string; prevHash: string; hash: string; scheme: HashScheme },
  mirror: AuditEventInput['mirror'],
): Promise<AuditEvent> {
  const { content } = row;
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
      row.dataJson,
      row.prevHash,
      row.hash,
      row.scheme,
    ],
  );
  if (mirror) {
    await client.query('INSERT INTO audit_outbox (seq, channel, thread_ts) VALUES ($1, $2, $3)', [
      content.seq,
      mirror.channel,
      mirror.threadTs ?? null,
    ]);
  }
  return toEvent(inserted.rows[0]!);
}

/** Up to `limit` rows from `fromSeq` on, in seq order. */
export async function eventsFrom(db: Queryable, fromSeq: number, limit: number): Promise<StoredAuditEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM audit_events AS e WHERE e.seq >= $1 ORDER BY e.seq LIMIT ${limit}`,
    [fromSeq],
  );
  return rows.map(toStored);
}

/** Up to `limit` rows at or after `since` and after seq `afterSeq`, in seq order. */
export async function eventsSince(
  db: Queryable,
  since: Date,
  afterSeq: number,
  limit: number,
): Promise<StoredAuditEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM audit_events AS e
      WHERE e.at >= $1 AND e.seq > $2 ORDER BY e.seq LIMIT ${limit}`,
    [since, afterSeq],
  );
  return rows.map(toStored);
}

/** The last row's seq and hash (null when empty) and the first keyed row's seq. */
export async function chainHead(
  db: Queryable,
): Promise<{ count: number; hash: string | null; keyedFrom: number | null }> {
  const { rows } = await db.query<{ seq: string | null; hash: string | null; keyed_from: string | null }>(
    `SELECT last.seq, last.hash,
            (SELECT seq FROM audit_events WHERE hash_scheme = 'hmac-sha256' ORDER BY seq LIMIT 1) AS keyed_from
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS last ON true`,
  );
  const row = rows[0]!;
  return {
    count: Number(row.seq ?? 0),
    hash: row.hash,
    keyedFrom: row.keyed_from === null ? null : Number(row.keyed_from),
  };
}

/** An incident's trail: its own events and those of the runs started in its channel, in order. */
export async function incidentEvents(db: Queryable, incidentId: string): Promise<AuditEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM audit_events AS e
      WHERE e.incident_id = $1 OR e.run_id IN (SELECT id FROM procedure_runs WHERE incident_id = $1)
      ORDER BY e.seq`,
    [incidentId],
  );
  return rows.map(toEvent);
}
