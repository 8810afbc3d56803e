import type { ActionStep } from '../runbooks/model.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';

/* No parser here: the card (loaded by the bot process) states limits through this module. */

/** Bounds on what one approved action may do; over them, it is not offered for approval, or rolled back. */
export interface ExecutionLimits {
  maxRows: number;
  maxBackends: number;
  /** Who set `maxRows`, in words for the preview: the procedure's annotation or the target. */
  rowLimitSetBy?: string;
}

export const DEFAULT_LIMITS: ExecutionLimits = { maxRows: 1000, maxBackends: 20 };

/**
 * The limits an action runs under on a target: the row limit of its procedure's `max_rows=`
 * annotation, else the target's `max_rows` (default 1,000); at most 20 backends signalled.
 */
export function limitsFor(target: Target, step: ActionStep): ExecutionLimits {
  if (step.maxRows !== undefined)
    return { ...DEFAULT_LIMITS, maxRows: step.maxRows, rowLimitSetBy: 'the procedure (max_rows=)' };
  return {
    ...DEFAULT_LIMITS,
    maxRows: target.settings.maxRows ?? DEFAULT_LIMITS.maxRows,
    rowLimitSetBy: `target ${target.name}`,
  };
}

/** "limit 1,000 rows (set by target prod)": how a preview states the row limit. */
export function rowLimitText(limit: { rows: number; setBy: string }): string {
  return `limit ${plural(limit.rows, 'row')} (set by ${limit.setBy})`;
}
