import type pg from 'pg';

/** A pool, or a client the caller holds (so a caller holding a lock needs no second connection). */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface AttemptRecord {
  firstStartedAt: Date;
  /** The ts an earlier attempt recorded (its caller's own record may have failed). */
  postedTs: string | null;
  /** How many attempts, this one included. */
  attempts: number;
}

/** Records one more attempt to post `key`; the row is committed before anything is sent. */
export async function recordPostAttempt(db: Queryable, key: string): Promise<AttemptRecord> {
  const { rows } = await db.query<{ first_started_at: Date; posted_ts: string | null; attempts: number }>(
    `INSERT INTO slack_post_attempts (post_key) VALUES ($1)
     ON CONFLICT (post_key) DO UPDATE SET attempts = slack_post_attempts.attempts + 1
     RETURNING first_started_at, posted_ts, attempts`,
    [key],
  );
  const row = rows[0]!;
  return { firstStartedAt: row.first_started_at, postedTs: row.posted_ts, attempts: row.attempts };
}

/** Keeps the posted message's ts beside the attempt (the first ts recorded wins). */
export async function recordPostedTs(db: Queryable, key: string, ts: string): Promise<void> {
  await db.query('UPDATE slack_post_attempts SET posted_ts = $2 WHERE post_key = $1 AND posted_ts IS NULL', [
    key,
    ts,
  ]);
}

/** Attempt rows older than this are deleted: no retry comes back that late. */
export async function prunePostAttempts(db: Queryable, olderThanDays = 14): Promise<void> {
  await db.query(
    `DELETE FROM slack_post_attempts WHERE first_started_at < now() - make_interval(days => $1)`,
    [olderThanDays],
  );
}
