import { createHash } from 'node:crypto';
import type { CheckResult } from '../runbooks/execute/runChecks.js';

/**
 * Whether a scheduled procedure run is posted. Pure: the previous results it compares with
 * are read and written by store/scheduledProcedures.ts.
 *
 * A check's result "changed" when its status changed (ok, error, or found to be an action
 * on this target) or, for a check that ran, when its set of rows changed: the columns and
 * the rows, in any order, fingerprinted. An error is compared by status only, so a check
 * that errors is posted the first time and not again while it keeps erroring. The first
 * run of a schedule is posted too: the channel sees what is watched before anything changes.
 */

/** What is kept of one check's result between scheduled runs. */
export interface CheckFingerprint {
  status: CheckResult['status'] | 'pending';
  /** sha256 of the columns and the sorted rows (with the total row count), for checks that ran. */
  rows: string | null;
}

export type ProcedureFingerprints = Record<string, CheckFingerprint>;

export type ScheduledProcedureDecision =
  | { post: false; reason: 'unchanged' }
  | { post: true; reason: 'first' | 'changed'; changed: string[] };

export function fingerprint(result: CheckResult | null): CheckFingerprint {
  if (!result) return { status: 'pending', rows: null };
  if (result.status !== 'ok') return { status: result.status, rows: null };
  const rows = result.rows.map((row) => JSON.stringify(row)).sort();
  const hash = createHash('sha256')
    .update(JSON.stringify({ columns: result.columns, rows, rowCount: result.rowCount }))
    .digest('hex');
  return { status: 'ok', rows: hash };
}

/** The checks whose result differs from the previous run's (new and vanished checks too). */
export function changedChecks(previous: ProcedureFingerprints, current: ProcedureFingerprints): string[] {
  const ids = new Set([...Object.keys(previous), ...Object.keys(current)]);
  return [...ids].filter((id) => {
    const before = previous[id];
    const now = current[id];
    return !before || !now || before.status !== now.status || before.rows !== now.rows;
  });
}

export function decideScheduledProcedure(
  previous: ProcedureFingerprints | undefined,
  current: ProcedureFingerprints,
): ScheduledProcedureDecision {
  if (!previous) return { post: true, reason: 'first', changed: Object.keys(current) };
  const changed = changedChecks(previous, current);
  return changed.length > 0
    ? { post: true, reason: 'changed', changed }
    : { post: false, reason: 'unchanged' };
}
