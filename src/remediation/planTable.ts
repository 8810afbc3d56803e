import { tableLines } from '../health/evidenceTable.js';
import type { Plan } from './planModel.js';

/**
 * What a plan reaches, as a plain-text table for a code block or a terminal: the backends a
 * signal would reach, or the sample of rows a DML statement changes; undefined for neither.
 */
export function planTable(plan: Partial<Pick<Plan, 'backends' | 'sample'>>): string | undefined {
  if (plan.backends && plan.backends.length > 0) {
    return tableLines(
      ['pid', 'user', 'database', 'application', 'state', 'age_s', 'query'],
      plan.backends.map((backend) => [
        backend.pid,
        backend.user,
        backend.database ?? null,
        backend.application,
        backend.state,
        backend.ageSeconds,
        backend.query,
      ]),
      40,
    ).join('\n');
  }
  if (plan.sample && plan.sample.rows.length > 0)
    return tableLines(plan.sample.columns, plan.sample.rows, 30).join('\n');
  return undefined;
}
