import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { ActionStep } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';

beforeAll(() => loadSqlParser());

const SEEDS = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/seeds');

function actions(markdown: string): ActionStep[] {
  return parseRunbook(markdown, 'x.md').procedures.flatMap((procedure) =>
    procedure.steps.filter((step): step is ActionStep => step.kind === 'action'),
  );
}

describe('the risk an author wrote beside an action', () => {
  it('weighs in: "(safe)" lowers a guess from a function name, "use with caution" and "admin only" raise', () => {
    const found = actions(
      [
        '# Queue',
        '## Sync queue stuck',
        '**Option A: Clear Failed Items**',
        '```sql',
        '-- Clear only failed items (safe)',
        "SELECT admin_clear_queue('failed');",
        '```',
        '**Option B: Clear All Queued Items**',
        '```sql',
        '-- Clear all queued items (use with caution)',
        "SELECT admin_clear_queue('queued');",
        '```',
        '**Option C: Delete Batch** (admin only)',
        '```sql',
        "SELECT admin_archive_batch('[batch-id]');",
        '```',
        '**Option D**',
        '```sql',
        '-- Empty the log (safe)',
        'DELETE FROM sync_log;',
        '```',
      ].join('\n'),
    );
    expect(found.map((step) => [step.risk, step.riskReasons[0]])).toEqual([
      ['medium', 'the runbook calls it safe'],
      ['high', 'the runbook says "use with caution"'],
      ['high', 'the runbook says "admin only"'],
      // What the statement itself shows is never talked down.
      ['high', 'DELETE without WHERE'],
    ]);
  });

  it("rates seed 004's options as its author does", () => {
    const file = readdirSync(SEEDS).find((name) => name.startsWith('004'))!;
    const byTitle = new Map(
      actions(readFileSync(join(SEEDS, file), 'utf8')).map((step) => [step.title, step.risk]),
    );
    expect(byTitle.get('Clear only failed items (safe)')).toBe('medium');
    expect(byTitle.get('Clear all queued items (use with caution)')).toBe('high');
    expect(byTitle.get('Soft delete batch and items')).toBe('high');
    expect(byTitle.get('Re-queue failed item')).toBe('medium');
  });
});
