import type pg from 'pg';
import { resolveIdentifiers } from '../runbooks/identifiers.js';
import type { ActionStep, Step } from '../runbooks/model.js';
import { bindStatement, type RawValues } from '../runbooks/procedureParams.js';
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
  /** The procedure's steps before this one: what they create is not missing yet. */
  earlier: readonly Step[] = [],
): Promise<StepPlan> {
  const binding = bindStatement(step.statement, inputs);
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
    earlier,
  );
  return { ok: true, plan };
}
