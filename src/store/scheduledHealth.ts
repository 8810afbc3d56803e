import type pg from 'pg';
import type { CheckStatus, HealthReport } from '../health/types.js';
import type {
  ScheduledDecision,
  ScheduledRunVerdict,
  StoredScheduledState,
} from '../schedules/scheduledHealthDecision.js';
import { inTransaction } from './transaction.js';

interface TargetRow {
  last_started_at: Date | null;
  last_fire: string | null;
  last_decision: ScheduledDecision | null;
  problem_since: Date | null;
  last_posted_at: Date | null;
}

/** Each target's scheduled health state: its checks' last statuses, and what was posted when. */
export class ScheduledHealthStore {
  constructor(private readonly db: pg.Pool) {}

  /**
   * Reads the target's stored state, asks `decide`, and stores what it decided, in one
   * transaction holding the target's row, so concurrent fires of one target take turns.
   */
  async record(
    report: HealthReport,
    fire: string,
    now: Date,
    decide: (stored: StoredScheduledState) => ScheduledRunVerdict,
  ): Promise<ScheduledDecision> {
    return inTransaction(this.db, async (client) => {
      await client.query('INSERT INTO scheduled_health_targets (target) VALUES ($1) ON CONFLICT DO NOTHING', [
        report.target,
      ]);
      const { rows } = await client.query<TargetRow>(
        `SELECT last_started_at, last_fire, last_decision, problem_since, last_posted_at
           FROM scheduled_health_targets WHERE target = $1 FOR UPDATE`,
        [report.target],
      );
      const row = rows[0]!;
      const { rows: checkRows } = await client.query<{ check_id: string; status: CheckStatus }>(
        'SELECT check_id, status FROM scheduled_health WHERE target = $1',
        [report.target],
      );
      const { decision, store } = decide({
        lastStartedAt: row.last_started_at,
        lastFire: row.last_fire,
        lastDecision: row.last_decision,
        problemSince: row.problem_since,
        lastPostedAt: row.last_posted_at,
        checks: new Map(checkRows.map((check) => [check.check_id, { status: check.status }])),
      });
      if (!store) return decision;
      await client.query(
        `INSERT INTO scheduled_health (target, check_id, status, summary, first_seen, last_seen)
         SELECT $1::text, i.check, i.status, i.summary, $3::timestamptz, $3::timestamptz
           FROM jsonb_to_recordset($2::jsonb) AS i("check" text, status text, summary text)
         ON CONFLICT (target, check_id) DO UPDATE
           SET status = EXCLUDED.status, summary = EXCLUDED.summary, last_seen = EXCLUDED.last_seen,
               first_seen = CASE WHEN scheduled_health.status = EXCLUDED.status
                                 THEN scheduled_health.first_seen ELSE EXCLUDED.first_seen END`,
        [report.target, JSON.stringify(store.items), now],
      );
      if (store.forgetOthers) {
        await client.query(
          'DELETE FROM scheduled_health WHERE target = $1 AND NOT (check_id = ANY($2::text[]))',
          [report.target, store.items.map((item) => item.check)],
        );
      }
      await client.query(
        `UPDATE scheduled_health_targets
            SET report_status = $2, last_started_at = $3, last_fire = $4, last_decision = $5,
                problem_since = $6, last_posted_at = CASE WHEN $7::boolean THEN $8::timestamptz ELSE last_posted_at END,
                updated_at = now()
          WHERE target = $1`,
        [
          report.target,
          report.status,
          new Date(report.startedAt),
          fire,
          JSON.stringify(decision),
          store.problemSince,
          decision.post,
          now,
        ],
      );
      return decision;
    });
  }

  /** The run a target's last post showed. */
  async setLastRun(target: string, runId: string): Promise<void> {
    await this.db.query('UPDATE scheduled_health_targets SET last_run_id = $2 WHERE target = $1', [
      target,
      runId,
    ]);
  }
}
