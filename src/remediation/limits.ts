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
  /**
   * Who allowed DML over `maxRows` to run in batches of at most `maxRows` rows (the
   * procedure's `batched=yes`, or the target's `batched_dml`); absent: over the limit is refused.
   */
  batchesAllowedBy?: string;
}

export const DEFAULT_LIMITS: ExecutionLimits = { maxRows: 1000, maxBackends: 20 };

/**
 * The limits an action runs under on a target: the row limit of its procedure's `max_rows=`
 * annotation, else the target's `max_rows` (default 1,000); at most 20 backends signalled.
 */
export function limitsFor(target: Target, step: ActionStep): ExecutionLimits {
  const batches = batchesAllowedBy(target, step);
  const allowed = batches ? { batchesAllowedBy: batches } : {};
  if (step.maxRows !== undefined)
    return {
      ...DEFAULT_LIMITS,
      maxRows: step.maxRows,
      rowLimitSetBy: 'the procedure (max_rows=)',
      ...allowed,
    };
  return {
    ...DEFAULT_LIMITS,
    maxRows: target.settings.maxRows ?? DEFAULT_LIMITS.maxRows,
    rowLimitSetBy: `target ${target.name}`,
    ...allowed,
  };
}

/** The procedure's `batched=yes|no` decides; without it, the target's `batched_dml`. Off by default. */
function batchesAllowedBy(target: Target, step: ActionStep): string | undefined {
  if (step.batched !== undefined) return step.batched ? 'the procedure (batched=yes)' : undefined;
  return target.settings.batchedDml ? `target ${target.name} (batched_dml)` : undefined;
}

/** "limit 1,000 rows (set by target prod)": how a preview states the row limit. */
export function rowLimitText(limit: { rows: number; setBy: string }): string {
  return `limit ${plural(limit.rows, 'row')} (set by ${limit.setBy})`;
}
