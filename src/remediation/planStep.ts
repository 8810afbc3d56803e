import type pg from 'pg';
import { resolveIdentifiers } from '../runbooks/identifiers.js';
import type { ActionStep, Step } from '../runbooks/model.js';
import { asCatalogNames, bindStatement, type RawValues } from '../runbooks/procedureParams.js';
import type { Target } from '../targets/target.js';
import { computePlan, type Plan } from './plan.js';

/** The plan, or what about the values keeps it from being made, in words for the person. */
export type StepPlan = { ok: true; plan: Plan } | { ok: false; problems: string[] };

/**
 * The plan of an action with these values, however it was asked for (Slack's Preview, the
 * terminal's `preview`): the values bound, the names it takes (`VACUUM <table>`) found in the
 * target's catalog and quoted into the SQL, so the plan shows and hashes the statement
 * exactly as it would run, then computed on `pool` (the target's remediation pool). A
 * failure to reach the target is thrown.
 */
export async function planStep(
  pool: pg.Pool,
  target: Target,
  step: ActionStep,
  inputs: RawValues,
  /** The step's procedure and its index there (0-based), when known. */
  procedure: { steps: readonly Step[]; position: number } = { steps: [], position: 0 },
): Promise<StepPlan> {
  // A name the procedure splices is bound as the catalog holds it, so checks compare like the fix acts.
  const binding = bindStatement(step.statement, asCatalogNames(procedure.steps, inputs));
  if (!binding.ok) return binding;
  const resolved = await resolveIdentifiers(pool, step.statement, inputs);
  if (!resolved.ok) return resolved;
  const plan = await computePlan(
    pool,
    target,
    { ...step, statement: resolved.statement },
    binding.values,
    undefined,
    binding.session,
    // What the steps before it create is not missing yet: it will be by the time this runs.
    procedure.steps.slice(0, procedure.position),
  );
  return { ok: true, plan };
}
