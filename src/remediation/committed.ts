import type pg from 'pg';
import { errorText } from '../redact.js';
import { connectionLostText, leftStatementRunning } from '../targets/connectionErrors.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';
import { beginSql } from './session.js';

/**
 * How an execution commits, and what it may conclude when the connection is lost: the
 * transaction it runs each change in, and how far a DML row count may drift from the
 * approved one. Shared by a single statement and by each batch of a batched one.
 */

/** The connection died at a moment when the change may or may not have taken effect. */
export class OutcomeUnknown extends Error {
  override name = 'OutcomeUnknown';
}

/**
 * Runs `work`; a connection lost meanwhile becomes OutcomeUnknown, saying during what. So does
 * pg's read timeout: the statement may still reach the server and take effect after it.
 */
export async function effectUnknownOnLoss<T>(during: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const lost =
      connectionLostText(err) ??
      (leftStatementRunning(err) ? `no answer from the target (${errorText(err)})` : undefined);
    if (lost && !(err instanceof OutcomeUnknown)) throw new OutcomeUnknown(`${lost} ${during}`);
    throw err;
  }
}

/** Allowed drift of a DML row count between approval and execution: 10% of the approved count. */
const ROW_DRIFT_RATIO = 0.1;
/** …but never less than this many rows, so small counts may move by one. */
const ROW_DRIFT_MIN = 1;

/** How many rows a count may move from `approvedRows` and still be what was approved. */
export function allowedDrift(approvedRows: number): number {
  return Math.max(approvedRows * ROW_DRIFT_RATIO, ROW_DRIFT_MIN);
}

export function rowDrift(approvedRows: number | undefined, currentRows: number): string | undefined {
  if (approvedRows === undefined) return 'the approved plan has no row count';
  const allowed = allowedDrift(approvedRows);
  if (Math.abs(currentRows - approvedRows) <= allowed) return undefined;
  return `it would now change ${plural(currentRows, 'row')}; ${approvedRows.toLocaleString('en-US')} ${approvedRows === 1 ? 'was' : 'were'} approved (allowed: ±${Math.floor(allowed)})`;
}

/**
 * BEGIN with the target's timeouts, `work`, COMMIT. When `veto` returns an objection the
 * transaction is rolled back instead and the objection returned; when `work` fails it is
 * rolled back and the error rethrown (the connection is then discarded; one whose statement
 * outlived pg's read timeout gets no ROLLBACK behind it, the server rolls back as it goes).
 * A connection lost during COMMIT is OutcomeUnknown.
 */
export async function runInTransaction<T, R = never>(
  client: pg.PoolClient,
  target: Target,
  work: () => Promise<T>,
  veto?: (done: T) => R | undefined,
): Promise<{ value: T; vetoed?: R }> {
  await client.query(beginSql(target.settings));
  let value: T;
  try {
    value = await work();
  } catch (err) {
    if (!leftStatementRunning(err)) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  const vetoed = veto?.(value);
  if (vetoed !== undefined) {
    await client.query('ROLLBACK');
    return { value, vetoed };
  }
  // Until COMMIT is sent, a lost connection means a rolled-back transaction (failed); once it
  // is in flight, the server may have committed before the connection went.
  await effectUnknownOnLoss('while COMMIT was in flight: the change may or may not have been committed', () =>
    client.query('COMMIT'),
  );
  return { value };
}
