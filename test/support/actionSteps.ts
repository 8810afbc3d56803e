import type { ActionStep } from '../../src/runbooks/model.js';
import { analyzeSqlBlock } from '../../src/runbooks/sql/analyzeSqlBlock.js';

/** The one statement of a runbook SQL block, as the loader would make it an ActionStep (call loadSqlParser first). */
export function action(
  sql: string,
  annotated: Partial<Pick<ActionStep, 'maxRows' | 'batched'>> = {},
): ActionStep {
  const analysis = analyzeSqlBlock(sql);
  if (!analysis.ok) throw new Error(analysis.error);
  const [statement] = analysis.statements;
  if (statement?.class !== 'action') throw new Error(`not an action: ${sql}`);
  return {
    kind: 'action',
    id: '1',
    title: statement.comment ?? 'action',
    role: 'remediate',
    source: { file: 'test.md', line: 1 },
    statement: statement.statement,
    risk: statement.risk ?? 'medium',
    riskReasons: statement.riskReasons,
    actionReasons: statement.actionReasons,
    noTransaction: statement.noTransaction,
    ...annotated,
  };
}
