import type pg from 'pg';
import type {
  ProcedureFingerprints,
  ScheduledProcedureDecision,
} from '../schedules/scheduledProcedureDecision.js';
import { inTransaction } from './transaction.js';

interface Row {
  last_run_id: string;
  last_decision: ScheduledProcedureDecision;
  fingerprints: ProcedureFingerprints;
}

/** Each procedure schedule's last results and what was decided for its last run. */
export class ScheduledProcedureStore {
  constructor(private readonly db: pg.Pool) {}

  /**
   * Compares a finished scheduled run with the schedule's previous one (via `decide`) and
   * stores its results, in one transaction holding the schedule's lock. The same run
   * recorded again (a retried job) gets the decision it got the first time.
   */
  async record(
    scheduleId: string,
    runId: string,
    current: ProcedureFingerprints,
    decide: (previous: ProcedureFingerprints | undefined) => ScheduledProcedureDecision,
  ): Promise<ScheduledProcedureDecision> {
    return inTransaction(this.db, async (client) => {
      // The schedule's first run has no row to lock yet: two runs finishing together take turns here.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('scheduled-procedure:' || $1))", [
        scheduleId,
      ]);
      const { rows } = await client.query<Row>(
        'SELECT last_run_id, last_decision, fingerprints FROM scheduled_procedures WHERE schedule_id = $1 FOR UPDATE',
        [scheduleId],
      );
      const previous = rows[0];
      if (previous?.last_run_id === runId) return previous.last_decision;
      const decision = decide(previous?.fingerprints);
      await client.query(
        `INSERT INTO scheduled_procedures (schedule_id, last_run_id, last_decision, fingerprints)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (schedule_id) DO UPDATE
           SET last_run_id = EXCLUDED.last_run_id, last_decision = EXCLUDED.last_decision,
               fingerprints = EXCLUDED.fingerprints, updated_at = now()`,
        [scheduleId, runId, JSON.stringify(decision), JSON.stringify(current)],
      );
      return decision;
    });
  }
}
