import type pg from 'pg';
import type { ActionStep } from '../runbooks/model.js';
import { applySession } from '../runbooks/sessionSettings.js';
import { failureText } from '../targets/connectionErrors.js';
import type { Target } from '../targets/target.js';
import { batchSql } from './batchSql.js';
import { OutcomeUnknown, runInTransaction } from './committed.js';
import type { Plan } from './planModel.js';
import { queryArgs } from './session.js';

/**
 * Runs an approved batched UPDATE or DELETE: one transaction per batch, with the target's
 * timeouts, each committed before the next starts, until a batch picks fewer rows than its
 * size. All batches together are held to the plan's `maxRows`: the batch that would pass it
 * is rolled back and the run stops. After every batch, `onBatch` is told how far it got (the
 * caller records it and shows it), so a stop or a crash between batches says what is done.
 */

/** How far a batched execution got: batches committed and the rows they changed. */
export interface BatchProgress {
  done: number;
  /** Batches the plan expected. */
  planned: number;
  rows: number;
  /** Rows the approved plan counted. */
  approvedRows: number;
}

export type OnBatch = (progress: BatchProgress) => Promise<void>;

/** Execution stopped after some batches committed: `result` says how, with the progress. */
export class BatchesStopped extends Error {
  override name = 'BatchesStopped';
  constructor(
    readonly result:
      | { status: 'failed'; error: string; batches: BatchProgress }
      | { status: 'outcome_unknown'; reason: string; batches: BatchProgress },
  ) {
    super(result.status === 'failed' ? result.error : result.reason);
  }
}

export interface BatchesDone {
  rows: number;
  batches: BatchProgress;
}

/** "2 of 3 batches (2,000 rows) committed": where a batched execution stands, in words. */
export function progressText(progress: BatchProgress): string {
  return `${progress.done} of ${progress.planned} ${progress.planned === 1 ? 'batch' : 'batches'} (${progress.rows.toLocaleString('en-US')} of ${progress.approvedRows.toLocaleString('en-US')} rows) committed`;
}

/**
 * Throws BatchesStopped when a batch fails, would pass the cap, or its COMMIT's outcome is
 * unknown; the connection is then discarded by the caller's withConnection.
 */
export async function runBatches(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  approved: Plan,
  current: Plan,
  onBatch?: OnBatch,
): Promise<BatchesDone> {
  const planned = current.batches;
  if (!planned) throw new Error('runBatches: the plan has no batches');
  const sql = batchSql(step.statement.sql, planned.key, planned.size, values.length);
  // The approved count bounds the whole run, as it bounds a single statement.
  const cap = Math.min(planned.maxRows, approved.batches?.maxRows ?? planned.maxRows);
  const progress: BatchProgress = {
    done: 0,
    planned: planned.count,
    rows: 0,
    approvedRows: approved.affectedRows ?? 0,
  };
  let last: string[] | undefined;
  for (;;) {
    const batch = progress.done + 1;
    const stopped = (why: string) => `batch ${batch} ${why}; ${progressText(progress)} and stay done`;
    let outcome: Awaited<ReturnType<typeof runOne>>;
    try {
      outcome = await runOne(client, target, approved, sql, values, last, progress.rows, cap);
    } catch (err) {
      if (err instanceof OutcomeUnknown)
        throw new BatchesStopped({
          status: 'outcome_unknown',
          reason: stopped(err.message),
          batches: progress,
        });
      throw new BatchesStopped({
        status: 'failed',
        error: stopped(`failed and was rolled back: ${failureText(err)}`),
        batches: progress,
      });
    }
    if (outcome.vetoed)
      throw new BatchesStopped({
        status: 'failed',
        error: stopped(`was rolled back: ${outcome.vetoed}`),
        batches: progress,
      });
    const { changed, picked, key } = outcome.value;
    if (picked === 0) break;
    progress.done = batch;
    progress.rows += changed;
    // More batches than planned when rows were added within the drift allowed.
    progress.planned = Math.max(progress.planned, batch);
    last = key;
    await onBatch?.({ ...progress });
    if (picked < planned.size) break;
  }
  return { rows: progress.rows, batches: progress };
}

async function runOne(
  client: pg.PoolClient,
  target: Target,
  approved: Plan,
  sql: { first: string; next: string },
  values: Array<string | number>,
  last: string[] | undefined,
  rowsSoFar: number,
  cap: number,
) {
  return runInTransaction(
    client,
    target,
    async () => {
      await applySession(client, approved.session ?? []);
      const result = await client.query<Record<string, unknown>>(
        last ? sql.next : sql.first,
        last ? [...values, ...last] : queryArgs(values),
      );
      const row = result.rows[0] ?? {};
      const key = Object.keys(row)
        .filter((column) => /^rb_k\d+$/.test(column))
        .map((column) => String(row[column]));
      return { changed: Number(row.changed ?? 0), picked: Number(row.picked ?? 0), key };
    },
    ({ changed }) =>
      rowsSoFar + changed > cap
        ? `it would bring the rows changed to ${(rowsSoFar + changed).toLocaleString('en-US')}, more than the ${cap.toLocaleString('en-US')} approved (the previewed count and its drift)`
        : undefined,
  );
}
