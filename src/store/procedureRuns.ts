import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { CheckResult } from '../runbooks/execute/runChecks.js';
import type { ActionStep, CheckStep, Procedure, Runbook } from '../runbooks/model.js';
import type { RawValues } from '../runbooks/procedureParams.js';
import type { RelatedFinding } from '../runbooks/relatedHealthChecks.js';
import { inTransaction } from './transaction.js';

export type ProcedureRunStatus = 'queued' | 'running' | 'done' | 'failed';
export type StepStatus = 'pending' | 'ok' | 'error' | 'shown';

export interface ProcedureRun {
  id: string;
  runbookId: string;
  runbookTitle: string;
  procedure: Procedure;
  runbookSha256: string;
  runbookCommit: string | null;
  target: string;
  requestedBy: string;
  channelId: string | null;
  params: RawValues;
  status: ProcedureRunStatus;
  error: string | null;
  rootTs: string | null;
  createdAt: Date;
  /** The built-in health checks related to the procedure, decided when the run was recorded. */
  relatedChecks: string[];
  /** What they found on the target; null until they ran (or when none are related). */
  relatedFindings: RelatedFinding[] | null;
}

export interface StepRecord {
  stepId: string;
  position: number;
  kind: 'check' | 'action' | 'manual';
  status: StepStatus;
  result: CheckResult | null;
  postedTs: string | null;
  doneBy: string | null;
  doneAt: Date | null;
}

export interface NewProcedureRun {
  runbook: Runbook;
  procedure: Procedure;
  target: string;
  requestedBy: string;
  channelId?: string;
  params: RawValues;
  idempotencyKey?: string;
  /** The open incident of the channel the run was started in: its timeline includes the run. */
  incidentId?: string;
  /** The built-in health checks related to the procedure (relatedHealthChecks). */
  relatedChecks?: string[];
}

interface RunRow {
  id: string;
  runbook_id: string;
  procedure: Procedure & { runbookTitle?: string };
  runbook_sha256: string;
  runbook_commit: string | null;
  target: string;
  requested_by: string;
  channel_id: string | null;
  params: RawValues;
  status: ProcedureRunStatus;
  error: string | null;
  root_ts: string | null;
  created_at: Date;
  related_checks: string[];
  related_findings: RelatedFinding[] | null;
}

interface StepRow {
  step_id: string;
  position: number;
  kind: StepRecord['kind'];
  status: StepStatus;
  result: CheckResult | null;
  posted_ts: string | null;
  done_by: string | null;
  done_at: Date | null;
}

function toRun(row: RunRow): ProcedureRun {
  const { runbookTitle, ...procedure } = row.procedure;
  return {
    id: row.id,
    runbookId: row.runbook_id,
    runbookTitle: runbookTitle ?? row.runbook_id,
    procedure,
    runbookSha256: row.runbook_sha256,
    runbookCommit: row.runbook_commit,
    target: row.target,
    requestedBy: row.requested_by,
    channelId: row.channel_id,
    params: row.params,
    status: row.status,
    error: row.error,
    rootTs: row.root_ts,
    createdAt: row.created_at,
    relatedChecks: row.related_checks,
    relatedFindings: row.related_findings,
  };
}

function toStep(row: StepRow): StepRecord {
  return {
    stepId: row.step_id,
    position: row.position,
    kind: row.kind,
    status: row.status,
    result: row.result,
    postedTs: row.posted_ts,
    doneBy: row.done_by,
    doneAt: row.done_at,
  };
}

/** Procedure runs and their steps in the state database. */
export class ProcedureRunStore {
  constructor(private readonly db: pg.Pool) {}

  /** Creates the run with a row per step, or returns the run already made for the same key. */
  async create(input: NewProcedureRun): Promise<{ run: ProcedureRun; created: boolean }> {
    return inTransaction(this.db, async (client) => {
      const { rows } = await client.query<RunRow>(
        `INSERT INTO procedure_runs (id, runbook_id, procedure_id, procedure, runbook_sha256, runbook_commit,
                                     target, requested_by, channel_id, params, idempotency_key, incident_id,
                                     related_checks)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING *`,
        [
          randomUUID(),
          input.runbook.id,
          input.procedure.id,
          JSON.stringify({ ...input.procedure, runbookTitle: input.runbook.title }),
          input.runbook.source.sha256,
          input.runbook.source.gitCommit ?? null,
          input.target,
          input.requestedBy,
          input.channelId ?? null,
          JSON.stringify(input.params),
          input.idempotencyKey ?? null,
          input.incidentId ?? null,
          JSON.stringify(input.relatedChecks ?? []),
        ],
      );
      const created = rows[0];
      if (!created) {
        // On the same connection: a burst of retries must not hold two connections each.
        const existing = await client.query<RunRow>(
          'SELECT * FROM procedure_runs WHERE idempotency_key = $1',
          [input.idempotencyKey],
        );
        return { run: toRun(existing.rows[0]!), created: false };
      }
      await client.query(
        `INSERT INTO procedure_steps (run_id, step_id, position, kind, status)
         SELECT $1, s.id, s.position, s.kind, CASE WHEN s.kind = 'check' THEN 'pending' ELSE 'shown' END
           FROM jsonb_to_recordset($2::jsonb) AS s(id text, position int, kind text)`,
        [
          created.id,
          JSON.stringify(
            input.procedure.steps.map((step, position) => ({ id: step.id, position, kind: step.kind })),
          ),
        ],
      );
      return { run: toRun(created), created: true };
    });
  }

  async get(id: string): Promise<ProcedureRun | undefined> {
    const { rows } = await this.db.query<RunRow>('SELECT * FROM procedure_runs WHERE id = $1', [id]);
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  /** The latest runs, newest first, for a listing (`runbook-bot history`). */
  async recent(limit = 20): Promise<ProcedureRun[]> {
    const { rows } = await this.db.query<RunRow>(
      'SELECT * FROM procedure_runs ORDER BY created_at DESC LIMIT $1',
      [limit],
    );
    return rows.map(toRun);
  }

  async steps(runId: string): Promise<StepRecord[]> {
    const { rows } = await this.db.query<StepRow>(
      'SELECT * FROM procedure_steps WHERE run_id = $1 ORDER BY position',
      [runId],
    );
    return rows.map(toStep);
  }

  async markRunning(id: string): Promise<void> {
    await this.db.query(
      `UPDATE procedure_runs SET status = 'running', started_at = coalesce(started_at, now()) WHERE id = $1`,
      [id],
    );
  }

  async saveCheckResult(runId: string, stepId: string, result: CheckResult): Promise<void> {
    await this.db.query(
      'UPDATE procedure_steps SET status = $3, result = $4 WHERE run_id = $1 AND step_id = $2',
      [runId, stepId, result.status, JSON.stringify(result)],
    );
  }

  /**
   * A step the target showed to be other than the runbook says becomes, in this run, what it
   * is: a check that can act there an action (shown with a Preview button, run only after
   * approval); an action that only reads there a check, with its result. The run's copy of
   * the procedure changes, not the runbook.
   */
  async replaceStep(runId: string, step: CheckStep | ActionStep, result?: CheckResult): Promise<void> {
    await inTransaction(this.db, async (client) => {
      await client.query(
        `UPDATE procedure_runs
            SET procedure = jsonb_set(procedure, '{steps}', (
                  SELECT jsonb_agg(CASE WHEN s.step ->> 'id' = $2 THEN $3::jsonb ELSE s.step END ORDER BY s.n)
                    FROM jsonb_array_elements(procedure -> 'steps') WITH ORDINALITY AS s(step, n)))
          WHERE id = $1`,
        [runId, step.id, JSON.stringify(step)],
      );
      await client.query(
        `UPDATE procedure_steps SET kind = $3, status = $4, result = $5
          WHERE run_id = $1 AND step_id = $2`,
        [
          runId,
          step.id,
          step.kind,
          step.kind === 'action' ? 'shown' : (result?.status ?? 'pending'),
          result && step.kind === 'check' ? JSON.stringify(result) : null,
        ],
      );
    });
  }

  /** What the related health checks found; a retried run stores its own findings over the last. */
  async saveRelatedFindings(runId: string, findings: RelatedFinding[]): Promise<void> {
    await this.db.query('UPDATE procedure_runs SET related_findings = $2 WHERE id = $1', [
      runId,
      JSON.stringify(findings),
    ]);
  }

  async finish(id: string, error?: string): Promise<void> {
    await this.db.query(
      'UPDATE procedure_runs SET status = $2, error = $3, finished_at = now() WHERE id = $1',
      [id, error ? 'failed' : 'done', error ?? null],
    );
  }

  /** Records the root message; false when another notifier recorded one first. */
  async markRootPosted(id: string, ts: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE procedure_runs SET root_ts = $2 WHERE id = $1 AND root_ts IS NULL',
      [id, ts],
    );
    return rowCount === 1;
  }

  async markStepPosted(runId: string, stepId: string, ts: string): Promise<void> {
    await this.db.query(
      'UPDATE procedure_steps SET posted_ts = $3 WHERE run_id = $1 AND step_id = $2 AND posted_ts IS NULL',
      [runId, stepId, ts],
    );
  }

  /**
   * Runs asked for in Slack that the queue may have lost (the recovery sweep's part):
   * unfinished ones, and finished ones whose root message or a step is not posted. A run
   * that failed without ever starting was refused at the command (the queue was down, the
   * person was told nothing started) and is left alone.
   */
  async stranded(options: {
    quietSeconds: number;
    windowSeconds: number;
    limit: number;
  }): Promise<Array<{ id: string; status: ProcedureRunStatus }>> {
    const { rows } = await this.db.query<{ id: string; status: ProcedureRunStatus }>(
      `SELECT r.id, r.status FROM procedure_runs r
        WHERE r.channel_id IS NOT NULL
          AND r.created_at < now() - make_interval(secs => $1)
          AND r.created_at > now() - make_interval(secs => $2)
          AND (r.status IN ('queued', 'running')
               OR (r.started_at IS NOT NULL
                   AND (r.root_ts IS NULL
                        OR EXISTS (SELECT 1 FROM procedure_steps s WHERE s.run_id = r.id AND s.posted_ts IS NULL))))
        ORDER BY r.created_at
        LIMIT $3`,
      [options.quietSeconds, options.windowSeconds, options.limit],
    );
    return rows;
  }

  /**
   * Ticks off a manual step. The first person's click is the one recorded; later clicks
   * get back who did it and when.
   */
  async markManualDone(
    runId: string,
    stepId: string,
    userId: string,
  ): Promise<{ recorded: boolean; doneBy: string; doneAt: Date } | undefined> {
    const ticked = await this.db.query<{ done_by: string; done_at: Date }>(
      `UPDATE procedure_steps SET done_by = $3, done_at = now()
        WHERE run_id = $1 AND step_id = $2 AND kind = 'manual' AND done_by IS NULL
       RETURNING done_by, done_at`,
      [runId, stepId, userId],
    );
    if (ticked.rows[0])
      return { recorded: true, doneBy: ticked.rows[0].done_by, doneAt: ticked.rows[0].done_at };
    // Someone was first (a separate statement, so it sees their committed tick).
    const earlier = await this.db.query<{ done_by: string; done_at: Date }>(
      `SELECT done_by, done_at FROM procedure_steps
        WHERE run_id = $1 AND step_id = $2 AND kind = 'manual' AND done_by IS NOT NULL`,
      [runId, stepId],
    );
    const row = earlier.rows[0];
    return row ? { recorded: false, doneBy: row.done_by, doneAt: row.done_at } : undefined;
  }
}
