import type pg from 'pg';

export interface WorkerIdentity {
  id: string;
  host: string;
  pid: number;
  mode: string;
}

/** Rows of workers gone this long are deleted by the beats of the living. */
const FORGET_AFTER = '1 day';

/** The workers' heartbeats: one row per worker process, its `seen_at` renewed every few seconds. */
export class WorkerHeartbeatStore {
  constructor(private readonly db: pg.Pool) {}

  async beat(worker: WorkerIdentity): Promise<void> {
    await this.db.query(
      `WITH forgotten AS (DELETE FROM worker_heartbeats WHERE seen_at < now() - interval '${FORGET_AFTER}')
       INSERT INTO worker_heartbeats (worker_id, host, pid, mode) VALUES ($1, $2, $3, $4)
       ON CONFLICT (worker_id) DO UPDATE SET seen_at = now()`,
      [worker.id, worker.host, worker.pid, worker.mode],
    );
  }

  /** Milliseconds since any worker was last seen, by the database's clock; undefined when none ever was. */
  async lastSeenAgoMs(): Promise<number | undefined> {
    const { rows } = await this.db.query<{ ago_ms: number | null }>(
      `SELECT (extract(epoch FROM now() - max(seen_at)) * 1000)::float8 AS ago_ms FROM worker_heartbeats`,
    );
    const ago = rows[0]?.ago_ms;
    return ago === null || ago === undefined ? undefined : Math.max(0, ago);
  }
}
