import { beforeAll, describe, expect, it } from 'vitest';
import { checkView } from '../../src/console/blockKit.js';
import type { CheckResult } from '../../src/runbooks/execute/runChecks.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { ActionStep, Procedure } from '../../src/runbooks/model.js';
import { parameterChoices } from '../../src/runbooks/parameterChoices.js';
import { askedAtPreview, parameterProblems, waitingFor } from '../../src/runbooks/procedureParams.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { parametersModal, parametersModalValues } from '../../src/slack/views/parametersModal.js';
import type { ProcedureRun, StepRecord } from '../../src/store/procedureRuns.js';

let library: RunbookLibrary;
beforeAll(async () => {
  await loadSqlParser();
  library = (await RunbookLibrary.load(runbookSources())).library;
});

function procedure(markdown: string): Procedure {
  return parseRunbook(markdown, 'team.md').procedures[0]!;
}

function rows(columns: string[], values: string[][]): CheckResult {
  return { status: 'ok', columns, rows: values, rowCount: values.length, truncated: false, durationMs: 1 };
}

function record(stepId: string, result: CheckResult | null): StepRecord {
  return {
    stepId,
    position: Number(stepId) - 1,
    kind: 'check',
    status: result?.status === 'ok' ? 'ok' : 'pending',
    result,
    postedTs: null,
    doneBy: null,
    doneAt: null,
  };
}

describe('a run starts with the steps it can run', () => {
  it("does not ask for the pid its own diagnosis finds; its verification waits for the fix's value", () => {
    const terminate = library.resolveProcedure('postgres-health#terminate-idle-in-transaction').procedure;
    expect([...askedAtPreview(terminate.steps)]).toEqual(['pid']);
    expect(parameterProblems(terminate, {})).toEqual([]);
    // A value given is still checked on the command.
    expect(parameterProblems(terminate, { pid: 'abc' })).toEqual([
      'pid must be an integer, e.g. pid=12345 (got "abc")',
    ]);
    const [diagnosis, , verification] = terminate.steps;
    expect(diagnosis?.kind === 'check' && waitingFor(diagnosis, terminate.steps, {})).toEqual([]);
    if (verification?.kind !== 'check') throw new Error('the third step is the verification check');
    expect(waitingFor(verification, terminate.steps, {}).map((param) => param.name)).toEqual(['pid']);
    expect(waitingFor(verification, terminate.steps, { pid: '42' })).toEqual([]);
  });

  it("still asks on the command for what a diagnosis needs, and for what no action's Preview would ask", () => {
    const lookup = procedure(
      [
        '# Team',
        '## Look at one session',
        '**Diagnosis:**',
        '```sql',
        'SELECT state FROM pg_stat_activity WHERE pid = {{pid}};',
        '```',
        '**Fix:**',
        '```sql',
        'SELECT pg_terminate_backend({{pid}});',
        '```',
        '**Verification:**',
        '```sql',
        "SELECT count(*) AS left_over FROM pg_stat_activity WHERE usename = '<user-email>';",
        '```',
      ].join('\n'),
    );
    expect(askedAtPreview(lookup.steps).size).toBe(0);
    expect(parameterProblems(lookup, {}).map((problem) => problem.split(':')[0])).toEqual([
      'pid is missing',
      'user_email is missing',
    ]);
  });
});

describe('values offered at Preview', () => {
  const terminate = () => library.resolveProcedure('postgres-health#terminate-idle-in-transaction').procedure;

  it("are the earlier checks' values in the column named like the parameter, valid and once each", () => {
    const { steps } = terminate();
    const action = steps[1] as ActionStep;
    const found = rows(
      ['PID', 'usename', 'last_query'],
      [
        ['4242', 'app', 'UPDATE accounts SET balance = 0'],
        ['4242', 'app', 'the same session again'],
        ['', 'nobody', 'a NULL pid'],
        ['not-a-pid', 'x', 'invalid for an integer'],
        ['7', 'batch', 'SELECT 1'],
      ],
    );
    const offered = parameterChoices(steps, [record('1', found)], action.id, [{ ...pid(action) }]);
    expect(offered).toEqual({
      pid: {
        choices: [
          { value: '4242', others: ['app', 'UPDATE accounts SET balance = 0'] },
          { value: '7', others: ['batch', 'SELECT 1'] },
        ],
        sources: [{ number: 1, title: steps[0]!.title, columns: ['PID', 'usename', 'last_query'] }],
      },
    });
    // A check after the action, or one that failed, offers nothing.
    expect(parameterChoices(steps, [record('3', rows(['pid'], [['1']]))], action.id, [pid(action)])).toEqual(
      {},
    );
    const failedCheck: CheckResult = { ...found, status: 'error', error: 'boom' };
    expect(parameterChoices(steps, [record('1', failedCheck)], action.id, [pid(action)])).toEqual({});
  });

  it('are a menu in the modal within Slack limits, beside a field to type one; the choice or the typed value is submitted', () => {
    const { steps } = terminate();
    const action = steps[1] as ActionStep;
    const many = rows(
      ['pid', 'last_query'],
      Array.from({ length: 130 }, (_, i) => [String(1000 + i), `SELECT ${'x'.repeat(100)}`]),
    );
    const offered = parameterChoices(steps, [record('1', many)], action.id, [pid(action)]);
    const run = { id: '00000000-0000-4000-8000-000000000001' } as ProcedureRun;
    const view = parametersModal(run, action, [pid(action)], 'C1', offered);
    expect(checkView(view)).toBeUndefined();
    const select = view.blocks.find((block) => block.block_id === 'pid') as {
      element: { type: string; options: Array<{ text: { text: string }; value: string }> };
      hint: { text: string };
      optional: boolean;
    };
    expect(select.element.type).toBe('static_select');
    expect(select.element.options).toHaveLength(100);
    expect(select.element.options[0]!.value).toBe('1000');
    expect(select.element.options[0]!.text.text).toMatch(/^1000 · SELECT x+…$/);
    expect(select.hint.text).toContain('The first 100 of 130 are listed.');
    expect(select.optional).toBe(true);
    expect(view.blocks.some((block) => block.block_id === 'pid.typed')).toBe(true);

    const chose = (value: string) => ({ pick: { selected_option: { value } } });
    const typed = (value: string) => ({ value: { value } });
    expect(parametersModalValues({ values: { pid: chose('1000'), 'pid.typed': typed('') } })).toEqual({
      values: { pid: '1000' },
      problems: {},
    });
    expect(parametersModalValues({ values: { pid: { pick: {} }, 'pid.typed': typed(' 77 ') } })).toEqual({
      values: { pid: '77' },
      problems: {},
    });
    expect(
      parametersModalValues({ values: { pid: chose('1000'), 'pid.typed': typed('77') } }).problems,
    ).toEqual({
      pid: 'Choose a pid or type one, not both (chose 1000, typed 77).',
    });
    // Without values to offer, the one field to type in, as before.
    const plain = parametersModal(run, action, [pid(action)], 'C1');
    expect(checkView(plain)).toBeUndefined();
    expect(plain.blocks.map((block) => block.block_id)).toEqual([undefined, 'pid']);
  });
});

function pid(action: ActionStep) {
  return action.statement.params.find((param) => param.name === 'pid')!;
}
