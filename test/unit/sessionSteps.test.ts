import { beforeAll, describe, expect, it } from 'vitest';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { Step } from '../../src/runbooks/model.js';
import { bindStatement, parameterProblems } from '../../src/runbooks/procedureParams.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';

beforeAll(() => loadSqlParser());

function steps(sql: string): Step[] {
  const runbook = parseRunbook(
    ['# RLS', '## Users cannot see their rows', '```sql', sql, '```'].join('\n'),
    'rls.md',
  );
  return runbook.procedures[0]!.steps;
}

describe('settings written before a statement', () => {
  it('are what it runs under: one check, not three actions', () => {
    const [step, ...rest] = steps(
      [
        '-- Test RLS policy directly',
        'SET ROLE authenticated;',
        "SET request.jwt.claim.sub = '[user-uuid]';",
        '',
        '-- Try the failing operation',
        "SELECT * FROM help_requests WHERE id = '[request_id]';",
      ].join('\n'),
    );
    expect(rest).toEqual([]);
    expect(step).toMatchObject({ kind: 'check', title: 'Try the failing operation' });
    if (step?.kind !== 'check') throw new Error('a check');
    expect(step.statement.text).toBe(
      "SET ROLE authenticated;\nSET request.jwt.claim.sub = '[user-uuid]';\nSELECT * FROM help_requests WHERE id = '[request_id]'",
    );
    expect(step.statement.sql).toBe('SELECT * FROM help_requests WHERE id = $1');
    expect(step.statement.session).toEqual([
      { kind: 'role', role: 'authenticated' },
      {
        kind: 'setting',
        name: 'request.jwt.claim.sub',
        value: { param: expect.objectContaining({ name: 'user_uuid', type: 'uuid' }) },
      },
    ]);
    // The claim's value is a parameter of the procedure like any other, and bound apart from the query's.
    const values = {
      request_id: '8d2f7c1e-0a4b-4c3d-9e8f-112233445566',
      user_uuid: '0f1e2d3c-4b5a-4697-8877-665544332211',
    };
    expect(bindStatement(step.statement, values)).toEqual({
      ok: true,
      values: [values.request_id],
      session: [
        { kind: 'role', role: 'authenticated' },
        { kind: 'setting', name: 'request.jwt.claim.sub', value: values.user_uuid },
      ],
    });
    const procedure = { id: 'rls#x', title: 'x', steps: [step] } as never;
    expect(parameterProblems(procedure, { request_id: values.request_id })).toEqual([
      expect.stringMatching(/^user_uuid is missing/),
    ]);
  });

  it('stay steps of their own when nothing follows them, and RESET or a timeout never groups', () => {
    const found = steps(['SET statement_timeout = 0;', 'SELECT 1;', 'SET ROLE authenticated;'].join('\n'));
    expect(found.map((step) => [step.kind, step.kind === 'manual' ? '' : step.statement.kind])).toEqual([
      ['action', 'SET'],
      ['check', 'SELECT'],
      ['action', 'SET ROLE'],
    ]);
  });
});
