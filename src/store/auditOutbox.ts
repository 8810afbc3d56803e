import type pg from 'pg';
import type { AuditEvent } from '../audit/events.js';
import { EVENT_COLUMNS, type EventRow, toEvent } from './auditEvents.js';

/**
 * The SQL of the audit outbox: which appended events still wait to be mirrored, and the
 * posting leases that keep each thread's mirror in order (see audit/outbox.ts).
 */

/** One thread's events up to `upToSeq`. */
export interface MirrorThread {
  channel: string;
  threadTs: string | null;
  upToSeq: number;
}

/** The oldest event of a thread not mirrored yet (up to `upToSeq`): mirrors post in order, one at a time. */
export async function nextToMirror(db: pg.Pool, thread: MirrorThread): Promise<AuditEvent | undefined> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS}
       FROM audit_outbox AS o JOIN audit_events AS e ON e.seq = o.seq
      WHERE o.channel = $1 AND coalesce(o.thread_ts, '') = coalesce($2, '')
        AND o.posted_ts IS NULL AND o.seq <= $3
      ORDER BY o.seq
      LIMIT 1`,
    [thread.channel, thread.threadTs, thread.upToSeq],
  );
  return rows[0] ? toEvent(rows[0]) : undefined;
}

/**
 * Takes the oldest unposted event of a thread (up to `upToSeq`) for posting, under a lease
 * of `seconds` rather than a lock held through the post. 'busy' while another job holds
 * that event's lease (only the oldest is ever posted, so order holds); 'none' when nothing
 * is left. The lease is decided on the row as a concurrent taker left it.
 */
export async function takeToMirror(
  db: pg.Pool,
  thread: MirrorThread,
  holder: string,
  seconds: number,
): Promise<AuditEvent | 'busy' | 'none'> {
  const free = 'coalesce(o.posting_until IS NULL OR o.posting_until < now() OR o.posting_by = $4, false)';
  for (;;) {
    const { rows } = await db.query<EventRow & { taken: boolean }>(
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
    if (!(await nextToMirror(db, thread))) return 'none';
  }
}

/** Gives back an event's posting lease after a failed post, for the retry. */
export async function releaseMirror(db: pg.Pool, seq: number, holder: string): Promise<void> {
  await db.query(
    'UPDATE audit_outbox SET posting_by = NULL, posting_until = NULL WHERE seq = $1 AND posting_by = $2',
    [seq, holder],
  );
}

export async function markMirrored(db: pg.Pool, seq: number, postedTs: string): Promise<void> {
  await db.query(
    `UPDATE audit_outbox SET posted_ts = $2, posted_at = now(), posting_by = NULL, posting_until = NULL
      WHERE seq = $1`,
    [seq, postedTs],
  );
}
