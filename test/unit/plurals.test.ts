import { beforeAll, describe, expect, it } from 'vitest';
import type { Finding, HealthReport } from '../../src/health/types.js';
import { describeRows } from '../../src/runbooks/expectations.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { Runbook } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { healthReportText } from '../../src/slack/views/healthReport.js';
import { procedureRootBlocks } from '../../src/slack/views/procedureRun.js';
import { rowsBlocks } from '../../src/slack/views/rowsTable.js';
import { reloadText, runbookListText } from '../../src/slack/views/runbookText.js';
import type { ProcedureRun } from '../../src/store/procedureRuns.js';
import { renderHealthReport } from '../../src/terminal/healthTable.js';
import { colors, lintLines } from '../../src/terminal/runbookText.js';
import { plural } from '../../src/text.js';

/*
 * Every count a person reads agrees with its noun: the main views rendered with one of
 * each never say "1 rows", "1 actions" or "1 warnings".
 */
const BAD_PLURAL =
  /(?<![\d.,])1 (?:more |manual |loader )?(rows|checks|actions|steps|warnings|procedures|runbooks|findings|events|lines|backends|problems|columns|statements|fields|values)\b/;

describe('plural', () => {
  it('agrees with the count, and groups thousands', () => {
    expect(plural(1, 'row')).toBe('1 row');
    expect(plural(0, 'row')).toBe('0 rows');
    expect(plural(1500, 'row')).toBe('1,500 rows');
    expect(plural(2, 'reply', 'replies')).toBe('2 replies');
  });
});

describe('views with one of each', () => {
  let runbook: Runbook;
  beforeAll(async () => {
    await loadSqlParser();
    const parsed = parseRunbook(
      [
        '# One of each',
        '## Stuck queue',
        '**Diagnosis:**',
        '```sql',
        'SELECT count(*) FROM pg_stat_activity;',
        '```',
        '**Fix:**',
        '```sql',
        "UPDATE jobs SET status = 'queued' WHERE status = 'stuck';",
        '```',
        '1. Tell the team in #ops.',
      ].join('\n'),
      'one.md',
    );
    runbook = {
      ...parsed,
      source: { file: 'one.md', sha256: 'x', origin: 'file' },
      warnings: [{ line: 1, message: 'a warning' }],
    };
  });

  it('the procedure run root, lint and the runbook list', () => {
    const procedure = runbook.procedures[0]!;
    const kinds = procedure.steps.map((step) => step.kind).sort();
    expect(kinds).toEqual(['action', 'check', 'manual']);
    const run = {
      id: '00000000-0000-4000-8000-000000000000',
      runbookId: runbook.id,
      runbookTitle: runbook.title,
      procedure,
      runbookSha256: 'a'.repeat(64),
      runbookCommit: null,
      target: 'prod',
      requestedBy: 'U0ALICE',
      channelId: 'C0OPS',
      params: {},
      status: 'running',
      error: null,
      rootTs: null,
      createdAt: new Date(),
    } as ProcedureRun;
    const root = JSON.stringify(procedureRootBlocks(run));
    expect(root).toContain(
      '1 check runs now; 1 action needs a preview and approval; 1 manual step to tick off',
    );
    const lint = lintLines(runbook, colors(false)).join('\n');
    expect(lint).toContain('1 procedure; 1 check, 1 action, 1 manual step; 1 warning');
    for (const text of [root, lint, runbookListText([runbook])]) expect(text).not.toMatch(BAD_PLURAL);
    expect(reloadText({ runbooks: 1, procedures: 1, warnings: 1, problems: [] })).toBe(
      'Reloaded 1 runbook, 1 procedure, 1 loader warning.',
    );
  });

  it('rows a check returned, and its one-line summary', () => {
    const one = { columns: ['n'], rows: [['1']], rowCount: 1, truncated: false, durationMs: 3 };
    expect(JSON.stringify(rowsBlocks(one))).toContain('1 row (3 ms).');
    expect(describeRows(one)).toBe('1 row: n=1');
  });

  it('the health report, in Slack and in the terminal', () => {
    const finding: Finding = {
      id: 'idle_in_transaction',
      title: 'Idle in transaction',
      status: 'warn',
      summary: '1 session idle in a transaction',
      threshold: null,
      evidence: [{ pid: 41 }],
      evidenceTotal: 1,
      remediation: null,
      durationMs: 1,
    };
    const report: HealthReport = {
      target: 'prod',
      status: 'warn',
      startedAt: '2026-01-01T00:00:00Z',
      durationMs: 12,
      serverVersion: null,
      findings: [finding],
    };
    expect(healthReportText(report)).toContain('(1 finding needs a look)');
    const terminal = renderHealthReport(report, { color: false });
    expect(terminal).toContain('1 check in 12 ms');
    for (const text of [healthReportText(report), terminal]) expect(text).not.toMatch(BAD_PLURAL);
  });
});
