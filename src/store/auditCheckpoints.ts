import type pg from 'pg';

/** A checkpoint line as recorded before it is posted, and the ts once it was. */
export interface CheckpointRecord {
  id: string;
  eventCount: number;
  line: string;
  createdAt: Date;
  postedTs: string | null;
}

interface CheckpointRow {
  id: string;
  event_count: string;
  line: string;
  created_at: Date;
  posted_ts: string | null;
}

const COLUMNS = 'id, event_count, line, created_at, posted_ts';

function record(row: CheckpointRow): CheckpointRecord {
  return {
    id: row.id,
    eventCount: Number(row.event_count),
    line: row.line,
    createdAt: row.created_at,
    postedTs: row.posted_ts,
  };
}

/** Advisory lock (session) so that of several workers, one posts each checkpoint. */
const CHECKPOINT_LOCK: [number, number] = [7_301_502, 1];

/** Takes the checkpointer's session lock on `client`; false when another worker holds it. */
export async function tryCheckpointLock(client: pg.PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    'SELECT pg_try_advisory_lock($1, $2) AS ok',
    CHECKPOINT_LOCK,
  );
  return rows[0]?.ok === true;
}

export async function releaseCheckpointLock(client: pg.PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, $2)', CHECKPOINT_LOCK);
}

export async function lastCheckpoint(db: Pick<pg.Pool, 'query'>): Promise<CheckpointRecord | undefined> {
  const { rows } = await db.query<CheckpointRow>(
    `SELECT ${COLUMNS} FROM audit_checkpoints ORDER BY id DESC LIMIT 1`,
  );
  return rows[0] ? record(rows[0]) : undefined;
}

export async function insertCheckpoint(
  db: Pick<pg.Pool, 'query'>,
  checkpoint: { eventCount: number; headHash: string; line: string; channel: string },
): Promise<CheckpointRecord> {
  const { rows } = await db.query<CheckpointRow>(
    `INSERT INTO audit_checkpoints (event_count, head_hash, line, channel) VALUES ($1, $2, $3, $4)
     RETURNING ${COLUMNS}`,
    [checkpoint.eventCount, checkpoint.headHash, checkpoint.line, checkpoint.channel],
  );
  return record(rows[0]!);
}

export async function markCheckpointPosted(
  db: Pick<pg.Pool, 'query'>,
  id: string,
  ts: string,
): Promise<void> {
  await db.query('UPDATE audit_checkpoints SET posted_ts = $2, posted_at = now() WHERE id = $1', [id, ts]);
}
