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

/**
 * Records one more attempt to post each key, in one statement (one commit), before anything is
 * sent: a job posting a batch of reports records them all at once instead of a round trip and
 * a commit per post.
 */
export async function recordPostAttempts(db: Queryable, keys: string[]): Promise<Map<string, AttemptRecord>> {
  if (keys.length === 0) return new Map();
  const { rows } = await db.query<{
    post_key: string;
    first_started_at: Date;
    posted_ts: string | null;
    attempts: number;
  }>(
    // Sorted, so two jobs recording overlapping keys lock their rows in the same order.
    `INSERT INTO slack_post_attempts (post_key)
     SELECT DISTINCT key FROM unnest($1::text[]) AS k(key) ORDER BY key
     ON CONFLICT (post_key) DO UPDATE SET attempts = slack_post_attempts.attempts + 1
     RETURNING post_key, first_started_at, posted_ts, attempts`,
    [keys],
  );
  return new Map(
    rows.map((row) => [
      row.post_key,
      { firstStartedAt: row.first_started_at, postedTs: row.posted_ts, attempts: row.attempts },
    ]),
  );
}

/** Keeps the posted message's ts beside the attempt (the first ts recorded wins). */
export async function recordPostedTs(db: Queryable, key: string, ts: string): Promise<void> {
  await recordPostedTsMany(db, [{ key, ts }]);
}

/** recordPostedTs for many posts in one statement. */
export async function recordPostedTsMany(
  db: Queryable,
  posts: Array<{ key: string; ts: string }>,
): Promise<void> {
  if (posts.length === 0) return;
  await db.query(
    `UPDATE slack_post_attempts SET posted_ts = p.ts
       FROM unnest($1::text[], $2::text[]) AS p(key, ts)
      WHERE post_key = p.key AND posted_ts IS NULL`,
    [posts.map((post) => post.key), posts.map((post) => post.ts)],
  );
}

/** Attempt rows older than this are deleted: no retry comes back that late. */
export async function prunePostAttempts(db: Queryable, olderThanDays = 14): Promise<void> {
  await db.query(
    `DELETE FROM slack_post_attempts WHERE first_started_at < now() - make_interval(days => $1)`,
    [olderThanDays],
  );
}
