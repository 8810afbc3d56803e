import { beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import { findingProcedureRuns } from '../../src/health/findingProcedures.js';
import type { Finding } from '../../src/health/types.js';
import { statementParameters } from '../../src/runbooks/model.js';
import {
  asCatalogNames,
  bindStatement,
  parameterProblems,
  parseAssignments,
  splitCommandWords,
} from '../../src/runbooks/procedureParams.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import { validateParameterValue } from '../../src/runbooks/sql/placeholders.js';

let library: RunbookLibrary;
beforeAll(async () => {
  library = (await RunbookLibrary.load(runbookSources())).library;
});

function finding(id: string, evidence: Finding['evidence']): Finding {
  const check = HEALTH_CHECKS.find((candidate) => candidate.id === id)!;
  return {
    id,
    title: check.title,
    status: 'warn',
    summary: '',
    threshold: null,
    evidence,
    evidenceTotal: evidence.length,
    remediation: check.remediation,
    durationMs: 0,
  };
}

describe('a finding offers its procedure for the objects it found', () => {
  it('duplicate_triggers: drop the second trigger of the pair, on its table', () => {
    const runs = findingProcedureRuns(
      finding('duplicate_triggers', [
        { schema: 'public', table: 'orders', first_trigger: 'orders_sync', second_trigger: 'orders_sync_2' },
        { schema: 'Sales Data', table: 'Line Items', first_trigger: 'a', second_trigger: 'b' },
      ]),
    );
    expect(runs).toEqual([
      'postgres-health#drop-duplicate-trigger schema=public table=orders trigger=orders_sync_2',
      `postgres-health#drop-duplicate-trigger schema='"Sales Data"' table='"Line Items"' trigger=b`,
    ]);
    // The words read back as the names found, which the procedure's parameters accept.
    const [, ...words] = splitCommandWords(runs[1]!);
    const { values } = parseAssignments(words);
    expect(values).toEqual({ schema: '"Sales Data"', table: '"Line Items"', trigger: 'b' });
    const drop = library.resolveProcedure('postgres-health#drop-duplicate-trigger').procedure;
    const action = drop.steps.find((step) => step.kind === 'action')!;
    expect(action.kind === 'action' && action.statement.text).toBe(
      'DROP TRIGGER <trigger> ON <schema>.<table>',
    );
    for (const param of action.kind === 'action' ? statementParameters(action.statement) : [])
      expect(validateParameterValue(param, values[param.name]!).ok).toBe(true);
    expect(parameterProblems(drop, values)).toEqual([]);
  });

  it('postgrest_grants: one GRANT per table found, then NOTIFY pgrst, as previewed actions', () => {
    const runs = findingProcedureRuns(
      finding('postgrest_grants', [
        { schema: 'public', table: 'new_table' },
        { schema: 'public', table: 'other' },
      ]),
    );
    expect(runs).toEqual([
      'postgres-health#restore-api-access schema=public table=new_table',
      'postgres-health#restore-api-access schema=public table=other',
    ]);
    const procedure = library.resolveProcedure('postgres-health#restore-api-access').procedure;
    const actions = procedure.steps.flatMap((step) => (step.kind === 'action' ? [step.statement] : []));
    expect(
      actions.map((statement) => [statement.text, (statement.identifiers ?? []).map((p) => p.name)]),
    ).toEqual([
      ['GRANT SELECT ON <schema>.<table> TO anon, authenticated', ['schema', 'table']],
      ["NOTIFY pgrst, 'reload schema'", []],
    ]);
  });

  it('quoted and mixed-case names: the checks compare what the catalog holds, the fixes quote it', () => {
    // A name that is itself in double quotes is a name like any other: quoted again, not passed through.
    expect(
      findingProcedureRuns(finding('postgrest_grants', [{ schema: 'my-shop', table: '"Orders"' }])),
    ).toEqual([`postgres-health#restore-api-access schema='"my-shop"' table='"""Orders"""'`]);
    const [run] = findingProcedureRuns(finding('postgrest_grants', [{ schema: 'my-shop', table: 'Orders' }]));
    const { values } = parseAssignments(splitCommandWords(run!).slice(1));
    expect(values).toEqual({ schema: '"my-shop"', table: '"Orders"' });
    for (const id of ['restore-api-access', 'drop-duplicate-trigger']) {
      const { procedure } = library.resolveProcedure(`postgres-health#${id}`);
      const named = asCatalogNames(procedure.steps, { ...values, trigger: '"Sync Again"' });
      expect(named).toMatchObject({ schema: 'my-shop', table: 'Orders' });
      // Its checks bind n.nspname = '<schema>' AND c.relname = '<table>' to the catalog's names.
      for (const step of procedure.steps) {
        if (step.kind !== 'check' || step.statement.params.length === 0) continue;
        const binding = bindStatement(step.statement, named);
        expect(binding.ok && binding.values).toEqual(['my-shop', 'Orders']);
      }
    }
    // A value no step splices is bound as given.
    expect(asCatalogNames([], { table: '"Orders"' })).toEqual({ table: '"Orders"' });
  });

  it('every parameter a finding fills is one its procedure takes, from a column its evidence has', () => {
    for (const check of HEALTH_CHECKS) {
      const hint = check.remediation;
      if (!hint?.params) continue;
      const { procedure } = library.resolveProcedure(hint.procedure);
      const taken = new Set(
        procedure.steps
          .flatMap((step) => (step.kind === 'manual' ? [] : statementParameters(step.statement)))
          .map((param) => param.name),
      );
      for (const name of Object.keys(hint.params))
        expect([check.id, taken.has(name)]).toEqual([check.id, true]);
    }
  });
});
