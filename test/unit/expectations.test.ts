import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { summarizeVerification } from '../../src/approvals/execution.js';
import { withVerdict } from '../../src/runbooks/execute/procedureChecks.js';
import type { CheckResult } from '../../src/runbooks/execute/runChecks.js';
import {
  describeRows,
  judge,
  parseExpectation,
  proseExpectation,
  type RowsResult,
} from '../../src/runbooks/expectations.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { CheckStep, Runbook } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { stepBlocks } from '../../src/slack/views/procedureRun.js';
import type { ProcedureRun, StepRecord } from '../../src/store/procedureRuns.js';
import { checkResultLines, colors, stepLine } from '../../src/terminal/runbookText.js';

const SEEDS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/seeds');

beforeAll(async () => {
  await loadSqlParser();
});

function parse(markdown: string): Omit<Runbook, 'source'> {
  return parseRunbook(markdown, 'doc.md');
}

function checksOf(runbook: Omit<Runbook, 'source'>): CheckStep[] {
  return runbook.procedures.flatMap((p) => p.steps.filter((s): s is CheckStep => s.kind === 'check'));
}

function rows(columns: string[], data: string[][], rowCount = data.length): RowsResult {
  return { columns, rows: data, rowCount, truncated: rowCount > data.length };
}

function conditions(text: string) {
  const parsed = parseExpectation(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.conditions;
}

describe('parseExpectation', () => {
  it('reads row counts, comparisons, NULL tests and their conjunction', () => {
    expect(conditions('0 rows')).toEqual([{ kind: 'rows', op: '=', count: 0 }]);
    expect(conditions('no rows')).toEqual([{ kind: 'rows', op: '=', count: 0 }]);
    expect(conditions('at least 1 row')).toEqual([{ kind: 'rows', op: '>=', count: 1 }]);
    expect(conditions('> 2 rows')).toEqual([{ kind: 'rows', op: '>', count: 2 }]);
    expect(conditions('rows <= 10')).toEqual([{ kind: 'rows', op: '<=', count: 10 }]);
    expect(conditions('count = 0')).toEqual([
      { kind: 'value', column: 'count', op: '=', value: '0', quoted: false },
    ]);
    expect(conditions("status = 'ok'")).toEqual([
      { kind: 'value', column: 'status', op: '=', value: 'ok', quoted: true },
    ]);
    expect(conditions('"Total Count" <> 3')).toEqual([
      { kind: 'value', column: 'Total Count', op: '!=', value: '3', quoted: false },
    ]);
    expect(conditions('customer_name is not null')).toEqual([
      { kind: 'null', column: 'customer_name', isNull: false },
    ]);
    expect(conditions('0')).toEqual([{ kind: 'value', op: '=', value: '0', quoted: false }]);
    expect(conditions("1 row and status = 'a and b'")).toEqual([
      { kind: 'rows', op: '=', count: 1 },
      { kind: 'value', column: 'status', op: '=', value: 'a and b', quoted: true },
    ]);
  });

  it('says what is wrong and how to write it', () => {
    const bad = (text: string) => {
      const parsed = parseExpectation(text);
      return parsed.ok ? 'accepted' : parsed.error;
    };
    expect(bad('status = ok')).toContain("quote text values (status = 'ok')");
    expect(bad('count = null')).toContain('write count is null or count is not null');
    expect(bad('looks fine')).toContain('is not an expectation (e.g. expect="0 rows"');
    expect(bad('')).toContain('expect is empty');
  });
});

describe('annotation expect=', () => {
  it('puts the expectation on the block’s one check, and warns when the block has none or several', () => {
    const runbook = parse(
      [
        '# R',
        '',
        '## Queue stuck',
        '',
        '<!-- runbook: expect="count = 0" -->',
        '```sql',
        "SELECT count(*) FROM queue WHERE status = 'failed';",
        '```',
        '',
        '<!-- runbook: expect="0 rows" -->',
        '```sql',
        'SELECT 1;',
        'SELECT 2;',
        '```',
        '',
        '<!-- runbook: expect="status = ok" -->',
        '```sql',
        'SELECT 3;',
        '```',
        '',
      ].join('\n'),
    );
    const [first, second, third, fourth] = checksOf(runbook);
    expect(first?.expect).toMatchObject({ text: 'count = 0', from: 'annotation', line: 5 });
    expect(second?.expect).toBeUndefined();
    expect(third?.expect).toBeUndefined();
    expect(fourth?.expect).toBeUndefined();
    expect(runbook.warnings.map((w) => w.message)).toEqual([
      'runbook annotation at line 10: expect applies to one SQL check, and the block at line 11 has 2 checks, so which one is meant is not clear (give each check its own block and annotation); ignored',
      'runbook annotation at line 16: expect="status = ok" is not accepted: "status = ok": quote text values (status = \'ok\'); unquoted words are only true, false and numbers',
    ]);
  });
});

describe('expectations derived from prose', () => {
  it('reads only what the words say one way', () => {
    const sql = 'SELECT job_number, customer_name FROM jobs';
    expect(proseExpectation('-- Should return no rows', sql)?.text).toBe('0 rows');
    expect(proseExpectation('-- should be empty', sql)?.text).toBe('0 rows');
    expect(proseExpectation('This query should return no rows.', sql)?.text).toBe('0 rows');
    expect(proseExpectation('-- Expected: 0', sql)?.text).toBe('0');
    expect(proseExpectation('-- Should return exactly one row', sql)?.text).toBe('1 row');
    expect(proseExpectation('-- All should have customer_name populated', sql)?.text).toBe(
      'customer_name is not null',
    );
    // Says what to look at, not what to compare with.
    expect(proseExpectation('-- Should return the correct customer', sql)).toBeUndefined();
    expect(proseExpectation('-- Random sample of jobs should all have valid customers', sql)).toBeUndefined();
    // A column the statement does not name is about something else.
    expect(proseExpectation('-- All should have phone populated', sql)).toBeUndefined();
  });

  it('takes a comment above or below a check, a sentence after its block, and skips what is ambiguous', () => {
    const runbook = parse(
      [
        '# R',
        '',
        '## Orphans',
        '',
        '```sql',
        '-- Should return no rows',
        'SELECT id FROM jobs WHERE customer_id IS NULL;',
        '```',
        '',
        '```sql',
        'SELECT count(*) FROM locks;',
        '-- Expected: 0',
        '```',
        '',
        '```sql',
        'SELECT id FROM a;',
        '-- Should return no rows',
        'SELECT id FROM b;',
        '```',
        '',
        '```sql',
        'SELECT id FROM dupes;',
        '```',
        '',
        'This should return no rows. If it returns any, drop the duplicates.',
        '',
      ].join('\n'),
    );
    const found = checksOf(runbook).map((check) => [check.title, check.expect?.text, check.expect?.line]);
    expect(found).toEqual([
      ['Should return no rows', '0 rows', 6],
      ['SELECT', '0', 12],
      ['SELECT', undefined, undefined],
      ['Should return no rows', undefined, undefined],
      ['SELECT', '0 rows', 25],
    ]);
  });

  it('derives from the five seeds exactly what they state unambiguously', () => {
    const derived: string[] = [];
    for (const file of readdirSync(SEEDS_DIR).sort()) {
      const runbook = parseRunbook(readFileSync(join(SEEDS_DIR, file), 'utf8'), file);
      for (const check of checksOf(runbook))
        if (check.expect)
          derived.push(
            `${file.slice(0, 3)}:${check.expect.line} ${check.expect.said} → ${check.expect.text}`,
          );
    }
    // Seed 000's "-- Should return the correct customer" (line 130) names no value, so it gives none.
    expect(derived).toEqual(['000:200 All should have customer_name populated → customer_name is not null']);
  });
});

describe('verdicts', () => {
  const verdict = (text: string, result: RowsResult) => judge(text, conditions(text), result);

  it('judges row counts', () => {
    expect(verdict('0 rows', rows(['id'], []))).toEqual({ met: true, expected: '0 rows', got: '0 rows' });
    expect(verdict('0 rows', rows(['id'], [['1'], ['2']]))).toEqual({
      met: false,
      expected: '0 rows',
      got: '2 rows',
    });
    expect(verdict('at least 1 row', rows(['id'], [['1']])).met).toBe(true);
  });

  it('judges a column of every row, numerically when the value is a number', () => {
    expect(verdict('count = 0', rows(['count'], [['0']]))).toEqual({
      met: true,
      expected: 'count = 0',
      got: 'count = 0',
    });
    expect(verdict('count = 0', rows(['count'], [['12']]))).toEqual({
      met: false,
      expected: 'count = 0',
      got: 'count = 12',
    });
    expect(verdict('count < 10', rows(['count'], [['9.5']])).met).toBe(true);
    expect(verdict("status = 'ok'", rows(['status'], [['ok'], ['failed'], ['failed']]))).toEqual({
      met: false,
      expected: "status = 'ok'",
      got: "status = 'failed' in 2 of 3 rows",
    });
    expect(verdict('healthy = true', rows(['healthy'], [['true']])).met).toBe(true);
    expect(verdict('name is not null', rows(['name'], [['a'], ['NULL']]))).toMatchObject({
      met: false,
      got: 'name = NULL in 1 of 2 rows',
    });
  });

  it('is not met, saying why, when there is nothing to compare', () => {
    expect(verdict('count = 0', rows(['count'], []))).toMatchObject({
      met: false,
      got: 'no rows to compare',
    });
    expect(verdict('total = 0', rows(['count'], [['0']]))).toMatchObject({
      met: false,
      got: 'no column total in the result (columns: count)',
    });
    expect(verdict('0', rows(['a', 'b'], [['0', '0']]))).toMatchObject({
      met: false,
      got: '1 row of 2 columns, not one value',
    });
  });

  it('gives a result a verdict only when its check expects something and ran', () => {
    const check: CheckStep = {
      kind: 'check',
      id: '1',
      title: 'Failed items',
      role: 'verify',
      source: { file: 'doc.md', line: 1 },
      statement: { text: 'SELECT 1', sql: 'SELECT 1', params: [], kind: 'SELECT', functions: [] },
      expect: { text: 'count = 0', conditions: conditions('count = 0'), from: 'annotation', line: 1 },
    };
    const ok: CheckResult = {
      status: 'ok',
      columns: ['count'],
      rows: [['3']],
      rowCount: 1,
      truncated: false,
      durationMs: 1,
    };
    expect(withVerdict(check, ok).verdict).toEqual({ met: false, expected: 'count = 0', got: 'count = 3' });
    expect(withVerdict(check, { ...ok, status: 'error', error: 'boom' }).verdict).toBeUndefined();
    expect(withVerdict({ ...check, expect: undefined }, ok).verdict).toBeUndefined();
  });
});

describe('showing a verdict', () => {
  const check: CheckStep = {
    kind: 'check',
    id: '1',
    title: 'Failed items',
    role: 'diagnose',
    source: { file: 'doc.md', line: 1 },
    statement: {
      text: 'SELECT count(*) FROM q',
      sql: 'SELECT count(*) FROM q',
      params: [],
      kind: 'SELECT',
      functions: [],
    },
    expect: {
      text: '0 rows',
      conditions: conditions('0 rows'),
      from: 'prose',
      line: 3,
      said: 'Should return no rows',
    },
  };
  const result = (rowCount: number): CheckResult => ({
    status: 'ok',
    columns: ['id'],
    rows: Array.from({ length: rowCount }, (_, i) => [String(i)]),
    rowCount,
    truncated: false,
    durationMs: 2,
    verdict: judge('0 rows', conditions('0 rows'), rows(['id'], [], rowCount)),
  });

  it('marks the step green or red in Slack, with what was expected and what came back', () => {
    const run = {
      id: '00000000-0000-4000-8000-000000000000',
      procedure: { steps: [check] },
      params: {},
    } as unknown as ProcedureRun;
    const record = (r: CheckResult): StepRecord => ({
      stepId: '1',
      position: 0,
      kind: 'check',
      status: 'ok',
      result: r,
      postedTs: null,
      doneBy: null,
      doneAt: null,
    });
    const text = (r: CheckResult) => JSON.stringify(stepBlocks(run, check, record(r), 1));
    expect(text(result(0))).toContain(':large_green_circle: met');
    expect(text(result(0))).toContain('Expected 0 rows: met (0 rows).');
    expect(text(result(0))).not.toContain(':white_check_mark:');
    expect(text(result(2))).toContain(':red_circle: not met');
    expect(text(result(2))).toContain(
      'Expected 0 rows, got 2 rows. (the runbook says \\"Should return no rows\\")',
    );
  });

  it('prints a met or not met line in the terminal', () => {
    const c = colors(false);
    expect(checkResultLines(result(0), c)).toContain('    ✔ expected 0 rows: met (0 rows)');
    expect(checkResultLines(result(2), c)).toContain('    ✘ expected 0 rows, got 2 rows');
    // What lint and show print for the step: where the expectation came from.
    expect(stepLine(check, 1, c)).toContain('(expects 0 rows, from line 3)');
  });
});

describe('verification before and after', () => {
  const step = (title: string, expectText?: string): CheckStep => ({
    kind: 'check',
    id: title,
    title,
    role: 'verify',
    source: { file: 'doc.md', line: 1 },
    statement: { text: 'SELECT 1', sql: 'SELECT 1', params: [], kind: 'SELECT', functions: [] },
    ...(expectText
      ? {
          expect: {
            text: expectText,
            conditions: conditions(expectText),
            from: 'annotation' as const,
            line: 1,
          },
        }
      : {}),
  });
  const ok = (columns: string[], data: string[][]): CheckResult => ({
    status: 'ok',
    columns,
    rows: data,
    rowCount: data.length,
    truncated: false,
    durationMs: 1,
  });

  it('reads the same way whatever the row count', () => {
    expect(describeRows(ok(['status', 'count'], [['queued', '500']]))).toBe(
      '1 row: status=queued, count=500',
    );
    expect(
      describeRows(
        ok(
          ['status', 'count'],
          [
            ['failed', '3'],
            ['queued', '500'],
          ],
        ),
      ),
    ).toBe('2 rows: status=failed, count=3; status=queued, count=500');
    expect(describeRows(ok(['id'], []))).toBe('0 rows');
  });

  it('says which check still fails, and says nothing of verdicts when none expects anything', () => {
    const failing = summarizeVerification([
      { step: step('Queue status', "status = 'queued'"), result: ok(['status'], [['failed']]) },
      { step: step('Sizes'), result: ok(['n'], [['1']]) },
    ]);
    expect(failing).toEqual({
      text: "Queue status: 1 row: status=failed (expected status = 'queued': not met); Sizes: 1 row: n=1",
      met: false,
      failing: ["Queue status: expected status = 'queued', got status = 'failed'"],
    });
    expect(summarizeVerification([{ step: step('Sizes'), result: ok(['n'], [['1']]) }])).toEqual({
      text: 'Sizes: 1 row: n=1',
      failing: [],
    });
  });
});
