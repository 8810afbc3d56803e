import type pg from 'pg';
import type { ActionStep } from '../runbooks/model.js';
import type { BoundSetting } from '../runbooks/procedureParams.js';
import { applySession } from '../runbooks/sessionSettings.js';
import { cellText, SERVER_TEXT } from '../targets/cellText.js';
import { failureText } from '../targets/connectionErrors.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';
import { batchingChange } from './batches.js';
import { BatchesStopped, type BatchProgress, type OnBatch, runBatches } from './batchRun.js';
import { effectUnknownOnLoss, OutcomeUnknown, rowDrift, runInTransaction } from './committed.js';
import { countingChanges } from './functionTrial.js';
import { type ExecutionLimits, limitsFor } from './limits.js';
import { type Plan, planHash, planOn, withAffectedRows } from './plan.js';
import { queryArgs, sessionTimeoutsSql, withConnection } from './session.js';
import { signalCall, signalSql } from './signalQuery.js';
import { statementShape } from './statementShape.js';

export { DEFAULT_LIMITS, type ExecutionLimits, limitsFor } from './limits.js';

/**
 * The rows an executed statement returned (a diagnostic function's report, EXPLAIN ANALYZE,
 * RETURNING): kept so the thread shows them as it shows a check's, not only "SELECT done".
 */
export interface ExecutionOutput {
  columns: string[];
  /** The first OUTPUT_ROW_LIMIT rows, as text. */
  rows: string[][];
  rowCount: number;
  truncated: boolean;
}

/** Rows of an action's output kept: what a thread and a report can show of it. */
const OUTPUT_ROW_LIMIT = 500;
/** Characters kept of one cell (a long EXPLAIN line stays whole; a document does not). */
const OUTPUT_CELL_CHARS = 2000;

/** What a query returned as rows, or undefined for a statement that returns none (UPDATE, DDL). */
function outputOf(result: pg.QueryResult<unknown[]>): ExecutionOutput | undefined {
  if (!result.fields || result.fields.length === 0) return undefined;
  const rows = result.rows
    .slice(0, OUTPUT_ROW_LIMIT)
    .map((row) => row.map((cell) => cellText(cell, OUTPUT_CELL_CHARS)));
  return {
    columns: result.fields.map((field) => field.name),
    rows,
    rowCount: result.rows.length,
    truncated: result.rows.length > OUTPUT_ROW_LIMIT,
  };
}

/**
 * The statement with its values, its rows read as arrays (a column name may repeat) of the
 * server's text, as psql would show them.
 */
function asRows(sql: string, values: Array<string | number>): pg.QueryArrayConfig {
  return { text: sql, values: queryArgs(values), rowMode: 'array', types: SERVER_TEXT };
}

export type ExecutionResult =
  | {
      status: 'succeeded';
      summary: string;
      affectedRows?: number;
      signalled?: number[];
      /** Rows the statement returned, when it returns rows. */
      output?: ExecutionOutput;
      /** A batched DML: the batches committed and the rows they changed. */
      batches?: BatchProgress;
      durationMs: number;
    }
  /**
   * It ran, or was not run because the re-check found nothing to do, and changed nothing:
   * 0 rows, no backend left to signal, an IF EXISTS whose object had gone. Not "succeeded":
   * whoever approved a fix should not read that it was applied.
   */
  | {
      status: 'nothing_done';
      summary: string;
      affectedRows?: number;
      signalled?: number[];
      output?: ExecutionOutput;
      batches?: BatchProgress;
      durationMs: number;
    }
  /** The re-check found a material change: nothing was executed; ask for a new approval. */
  | { status: 'changed'; reason: string; current: Plan }
  /** A limit was exceeded: rolled back (or never started), nothing changed. */
  | { status: 'aborted'; reason: string }
  /** The statement failed (timeout, lock timeout, error, connection lost before COMMIT): rolled back. */
  | { status: 'failed'; error: string; batches?: BatchProgress }
  /**
   * The connection was lost when the change may already have taken effect and the bot could
   * not learn whether it did: while COMMIT was in flight, while a statement that runs
   * outside a transaction was running, or while backends were being signalled.
   */
  | { status: 'outcome_unknown'; reason: string; batches?: BatchProgress };

/**
 * Whether `current` differs materially from the approved plan, and how, in words; undefined
 * when the approval still holds. The rule:
 * - the statement, values, target or mode differ, or the approved hash does not match its
 *   contents → changed (the approval was for something else);
 * - dml: a trigger, rule or acting constraint the approved plan did not name → changed;
 *   |current rows − approved rows| > max(10% of approved rows, 1 row) → changed.
 *   3 approved: 2–4 still hold; 100 approved: 90–110; 0 approved: 0–1;
 * - signal: any backend that would now be signalled but was not in the approved set →
 *   changed. Approved backends that have gone are fine: only the intersection is signalled;
 * - statements that are described, not previewed (DDL, VACUUM…): their fingerprint is static.
 */
export function materialChange(approved: Plan, current: Plan): string | undefined {
  if (planHash(approved) !== approved.hash) return 'the approved plan does not match its own hash';
  if (
    approved.target !== current.target ||
    approved.sql !== current.sql ||
    approved.mode !== current.mode ||
    JSON.stringify(approved.params) !== JSON.stringify(current.params)
  )
    return 'the statement, its values or the target differ from the approved plan';
  if (current.mode === 'dml' || current.mode === 'trial') {
    // A trigger, rule or acting constraint added since the preview would run at execution
    // without anyone having seen it named.
    const named = new Set(approved.notFired ?? []);
    const unseen = (current.notFired ?? []).filter((object) => !named.has(object));
    if (unseen.length > 0)
      return `it would now fire ${unseen.join(', ')}, which the approved plan did not name`;
    return batchingChange(approved, current) ?? rowDrift(approved.affectedRows, current.affectedRows ?? 0);
  }
  if (current.mode === 'signal') {
    const approvedPids = new Set((approved.backends ?? []).map((backend) => backend.pid));
    const added = (current.backends ?? []).filter((backend) => !approvedPids.has(backend.pid));
    if (added.length > 0)
      return `${plural(added.length, 'backend')} not in the approved plan now ${added.length === 1 ? 'matches' : 'match'} (pid ${added.map((backend) => backend.pid).join(', ')})`;
  }
  return undefined;
}

/**
 * Executes an approved action: re-computes the plan on the same connection and stops if it
 * changed materially, then runs it with the target's timeouts within `limits`. Signals go
 * only to approved backends that still match, re-checked against the safety exclusions.
 * A batched DML runs batch by batch (see batchRun.ts), telling `onBatch` after each.
 * Never throws for a database error: the result says what happened.
 */
export async function executeAction(
  pool: pg.Pool,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  approved: Plan,
  limits: ExecutionLimits = limitsFor(target, step),
  onBatch?: OnBatch,
): Promise<ExecutionResult> {
  try {
    const { mode } = statementShape(step);
    // Statements described rather than previewed may change session state (SET, LISTEN,
    // SET ROLE…), and session-level timeouts were set for VACUUM: never reuse those connections.
    const discard = mode === 'statement' || mode === 'no-transaction';
    return await withConnection(
      pool,
      async (client) => {
        // Under the approved role and settings, as the preview ran: the approval covers them.
        const current = await planOn(client, target, step, values, limits, approved.session ?? []);
        const change = materialChange(approved, current);
        if (change) return { status: 'changed', reason: change, current } satisfies ExecutionResult;
        const started = performance.now();
        const elapsed = () => Math.round(performance.now() - started);
        // What the preview would now refuse to offer is not run either.
        if (current.blocked?.kind === 'nothing_to_do')
          return {
            status: 'nothing_done',
            summary: `nothing left to do (${current.blocked.reason}); nothing was run`,
            ...(current.mode === 'signal' ? { signalled: [] } : {}),
            ...(current.mode === 'dml' || current.mode === 'trial' ? { affectedRows: 0 } : {}),
            durationMs: elapsed(),
          } satisfies ExecutionResult;
        if (current.blocked)
          // over a limit, not allowed here, naming what the target lacks
          return { status: 'aborted', reason: current.blocked.reason } satisfies ExecutionResult;
        switch (current.mode) {
          case 'signal':
            return signal(client, target, step, approved, current, limits, elapsed);
          case 'dml':
          case 'trial':
            if (current.batches) {
              const done = await runBatches(client, target, step, values, approved, current, onBatch);
              return {
                status: done.rows > 0 ? 'succeeded' : 'nothing_done',
                summary: `${step.statement.kind} changed ${done.rows > 0 ? plural(done.rows, 'row') : 'nothing (0 rows)'} in ${plural(done.batches.done, 'batch', 'batches')}`,
                affectedRows: done.rows,
                batches: done.batches,
                durationMs: elapsed(),
              } satisfies ExecutionResult;
            }
            return dml(client, target, step, values, approved, current, limits, elapsed);
          case 'no-transaction':
            return outsideTransaction(client, target, step, values, elapsed);
          case 'statement':
            return inTransaction(client, target, step, values, approved.session ?? [], limits, elapsed);
        }
      },
      { discard },
    );
  } catch (err) {
    if (err instanceof OutcomeUnknown) return { status: 'outcome_unknown', reason: err.message };
    // Earlier batches stay committed: the result says how many.
    if (err instanceof BatchesStopped) return err.result;
    // withConnection has destroyed the connection; whatever transaction it had is gone with
    // it, rolled back by the server: nothing was changed.
    return { status: 'failed', error: failureText(err) };
  }
}

async function signal(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  approved: Plan,
  current: Plan,
  limits: ExecutionLimits,
  elapsed: () => number,
): Promise<ExecutionResult> {
  const { fn } = signalCall(step.statement.sql);
  const approvedPids = new Set((approved.backends ?? []).map((backend) => backend.pid));
  const pids = (current.backends ?? [])
    .map((backend) => backend.pid)
    .filter((pid) => approvedPids.has(pid))
    .sort((a, b) => a - b);
  const verb = fn === 'pg_terminate_backend' ? 'terminated' : 'cancelled the queries of';
  if (pids.length > limits.maxBackends)
    return {
      status: 'aborted',
      reason: `it would signal ${plural(pids.length, 'backend')}; the limit is ${limits.maxBackends}`,
    };
  if (pids.length === 0)
    return {
      status: 'nothing_done',
      summary: 'no backend signalled: the approved backends have gone',
      signalled: [],
      durationMs: elapsed(),
    };
  // The runbook's statement is not run: only these pids are signalled, and only those that
  // still pass the exclusions at this moment. A signal cannot be rolled back; the
  // transaction is only there for the timeouts.
  const { value: result } = await runInTransaction(client, target, () =>
    effectUnknownOnLoss('while signalling: some backends may have been signalled', () =>
      client.query(signalSql(fn, step.signalScope ?? 'database'), [pids]),
    ),
  );
  const signalled = (result.rows as Array<{ pid: number; signalled: boolean }>)
    .filter((row) => row.signalled)
    .map((row) => Number(row.pid));
  const missed = pids.length - signalled.length;
  const summary =
    `${verb} ${plural(signalled.length, 'backend')}` +
    (signalled.length > 0 ? ` (pid ${signalled.join(', ')})` : '') +
    (missed > 0 ? `; ${missed} had gone or were no longer eligible` : '');
  return {
    status: signalled.length > 0 ? 'succeeded' : 'nothing_done',
    summary,
    signalled,
    durationMs: elapsed(),
  };
}

async function dml(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  approved: Plan,
  current: Plan,
  limits: ExecutionLimits,
  elapsed: () => number,
): Promise<ExecutionResult> {
  const overLimit = (rows: number) =>
    `it would change ${plural(rows, 'row')}; the limit is ${limits.maxRows}`;
  if ((current.affectedRows ?? 0) > limits.maxRows)
    return { status: 'aborted', reason: overLimit(current.affectedRows ?? 0) };
  // What the statement actually did is held to the same rules as the re-check: rows may
  // have changed between the re-check and now.
  const { value: rows, vetoed } = await runInTransaction(
    client,
    target,
    async () => {
      await applySession(client, approved.session ?? []);
      // A function's own rows count, as its trial counted them: not the rows the SELECT returned.
      if (current.mode === 'trial') {
        const { value, affectedRows } = await countingChanges(client, () =>
          client.query(asRows(step.statement.sql, values)),
        );
        return { count: affectedRows, output: outputOf(value) };
      }
      const result = await client.query(asRows(step.statement.sql, values));
      return { count: result.rowCount ?? result.rows.length, output: outputOf(result) };
    },
    ({ count }): ExecutionResult | undefined => {
      if (count > limits.maxRows) return { status: 'aborted', reason: overLimit(count) };
      const drift = rowDrift(approved.affectedRows, count);
      return drift
        ? { status: 'changed', reason: drift, current: withAffectedRows(current, step, count, limits) }
        : undefined;
    },
  );
  if (vetoed) return vetoed;
  return {
    status: rows.count > 0 ? 'succeeded' : 'nothing_done',
    summary:
      `${step.statement.kind} changed ${rows.count > 0 ? plural(rows.count, 'row') : 'nothing (0 rows)'}` +
      // A function's answer (how many it cleared) is worth saying as well as its rows.
      (current.mode === 'trial' && rows.output ? `; returned ${plural(rows.output.rowCount, 'row')}` : ''),
    affectedRows: rows.count,
    ...(rows.output ? { output: rows.output } : {}),
    durationMs: elapsed(),
  };
}

/**
 * VACUUM, CREATE INDEX CONCURRENTLY…: Postgres refuses them in a transaction block, so the
 * timeouts are set for the session; the connection is discarded afterwards (not reset).
 */
async function outsideTransaction(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  elapsed: () => number,
): Promise<ExecutionResult> {
  await client.query(sessionTimeoutsSql(target.settings));
  // Outside a transaction nothing rolls back: a statement cut short may have done part of its work.
  const result = await effectUnknownOnLoss(`while ${step.statement.kind} ran outside a transaction`, () =>
    client.query(asRows(step.statement.sql, values)),
  );
  const output = outputOf(result);
  return {
    status: 'succeeded',
    summary: `${step.statement.kind} ${output ? `returned ${plural(output.rowCount, 'row')}` : 'done'} (outside a transaction)`,
    ...(output ? { output } : {}),
    durationMs: elapsed(),
  };
}

const DML_KINDS = new Set(['UPDATE', 'DELETE', 'INSERT', 'MERGE']);

/** Other DDL, unknown functions, NOTIFY…: one transaction with the timeouts, committed. */
async function inTransaction(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  session: readonly BoundSetting[],
  limits: ExecutionLimits,
  elapsed: () => number,
): Promise<ExecutionResult> {
  const { kind } = step.statement;
  const { value: result, vetoed } = await runInTransaction(
    client,
    target,
    async () => {
      await applySession(client, session);
      return client.query(asRows(step.statement.sql, values));
    },
    (done) => {
      // DML that calls functions a preview could not run still gets the row limit.
      const rows = done.rowCount ?? 0;
      return DML_KINDS.has(kind) && rows > limits.maxRows
        ? `it changed ${plural(rows, 'row')}; the limit is ${limits.maxRows}`
        : undefined;
    },
  );
  if (vetoed) return { status: 'aborted', reason: vetoed };
  const rows = DML_KINDS.has(kind) ? (result.rowCount ?? 0) : undefined;
  const output = outputOf(result);
  const did =
    rows !== undefined
      ? `changed ${rows > 0 ? plural(rows, 'row') : 'nothing (0 rows)'}`
      : output
        ? `returned ${plural(output.rowCount, 'row')}`
        : 'done';
  return {
    status: rows === 0 ? 'nothing_done' : 'succeeded',
    summary: `${kind} ${did}`,
    affectedRows: rows,
    ...(output ? { output } : {}),
    durationMs: elapsed(),
  };
}
