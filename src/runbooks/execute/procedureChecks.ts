import type pg from 'pg';
import type { Target } from '../../targets/target.js';
import { judge, type Verdict } from '../expectations.js';
import { resolveIdentifiers } from '../identifiers.js';
import type { ActionStep, CheckStep, Step } from '../model.js';
import { asCatalogNames, bindStatement, type RawValues, waitingFor } from '../procedureParams.js';
import { vouchedFunctions } from './readSafety.js';
import { type CheckResult, type CheckToRun, runChecks } from './runChecks.js';

/** A step as this run found it on the target, with the result when it ran. */
export type StepOnTarget =
  | {
      step: Step;
      /** Set for every step that ran: a check, or a check that turned out to act (status `action`). */
      result?: CheckResult;
      changed: false;
    }
  | {
      /** It differs from the runbook's: a check that can act here, an action that only reads here, or why it does not. */
      step: CheckStep | ActionStep;
      result?: CheckResult;
      changed: true;
    };

/**
 * Runs what a procedure run runs by itself, in order, on one read-only connection: its checks,
 * and the actions that only functions unknown to the bot made actions (the target's catalog
 * decides those: read-safe there, they run as checks). A check the catalog shows can act
 * becomes an action, with why. Values are bound per step; a check whose values do not bind
 * fails with the reason, an action that cannot bind stays an action (Preview asks for them),
 * and a verification waiting for a value Preview asks for is left without a result: it runs
 * after the fix. Throws when the target cannot be reached at all.
 */
export async function runProcedureChecks(
  pool: pg.Pool,
  target: Target,
  steps: Step[],
  params: RawValues,
): Promise<StepOnTarget[]> {
  const outcomes: StepOnTarget[] = steps.map((step) => ({ step, changed: false as const }));
  const toRun: Array<{ at: number; check: CheckToRun }> = [];
  const values = asCatalogNames(steps, params);
  for (const [at, step] of steps.entries()) {
    const candidate = step.kind === 'check' ? step : step.kind === 'action' ? readingAction(step) : undefined;
    if (!candidate) continue;
    const binding = bindStatement(candidate.statement, values);
    // A check naming a table by parameter runs on that table only once the catalog has it.
    const resolved = binding.ok ? await resolveIdentifiers(pool, candidate.statement, params) : undefined;
    if (binding.ok && resolved && !resolved.ok) {
      if (step.kind === 'check')
        outcomes[at] = { step, result: failed(resolved.problems.join('; ')), changed: false };
    } else if (binding.ok && resolved?.ok) {
      const vouched = vouchedBy(step);
      const deciding = step.kind === 'action' ? step.decidedByCatalog?.functions : undefined;
      toRun.push({
        at,
        check: {
          step: { ...candidate, statement: resolved.statement },
          values: binding.values,
          session: binding.session,
          ...(vouched ? { vouched } : {}),
          ...(deciding ? { mustExist: deciding } : {}),
        },
      });
    } else if (!binding.ok && step.kind === 'check' && waitingFor(step, steps, params).length === 0)
      outcomes[at] = { step, result: failed(binding.problems.join('; ')), changed: false };
  }
  const results = await runChecks(
    pool,
    target,
    toRun.map(({ check }) => check),
  );
  for (const [i, { at, check }] of toRun.entries()) {
    const result = withVerdict(check.step, results[i]!);
    const original = steps[at]!;
    if (original.kind === 'check')
      outcomes[at] =
        result.status === 'action'
          ? { step: checkAsAction(original, result), result, changed: true }
          : { step: original, result, changed: false };
    else if (result.status !== 'action') outcomes[at] = { step: check.step, result, changed: true };
    else {
      // Stored again only when the catalog said why: otherwise the runbook's step stands as it is.
      const kept = withCatalogReasons(original as ActionStep, result);
      outcomes[at] = kept === original ? { step: original, changed: false } : { step: kept, changed: true };
    }
  }
  return outcomes;
}

/**
 * The result with its verdict when the check expects something. A check that could not run
 * has no verdict: its error says more than "not met" would.
 */
export function withVerdict(step: CheckStep, result: CheckResult): CheckResult {
  const verdict = verdictOf(step, result);
  return verdict ? { ...result, verdict } : result;
}

export function verdictOf(step: CheckStep, result: CheckResult): Verdict | undefined {
  if (!step.expect || result.status !== 'ok') return undefined;
  return judge(step.expect.text, step.expect.conditions, result);
}

/** The check an action would be, when only unknown functions made it one. */
function readingAction(step: ActionStep): CheckStep | undefined {
  if (!step.decidedByCatalog) return undefined;
  return {
    kind: 'check',
    id: step.id,
    title: step.title,
    role: step.role === 'verify' ? 'verify' : 'diagnose',
    source: step.source,
    ...(step.section ? { section: step.section } : {}),
    statement: step.statement,
  };
}

/**
 * What the catalog is asked to take on trust: for a check, what its author vouched for
 * (readonly=); for an action decided by the catalog, the same less the functions it decides.
 */
function vouchedBy(step: Step): ReadonlySet<string> | undefined {
  if (step.kind !== 'action' || !step.decidedByCatalog) return undefined;
  const deciding = new Set(step.decidedByCatalog.functions);
  return new Set([...vouchedFunctions(step.statement.functions)].filter((name) => !deciding.has(name)));
}

/** A check the target's catalog showed can act: the action it is, with why, for preview and approval. */
function checkAsAction(check: CheckStep, result: CheckResult): ActionStep {
  const reasons = result.actionReasons ?? [result.error ?? 'not read-only on this target'];
  return {
    ...check,
    kind: 'action',
    risk: result.risk ?? 'medium',
    riskReasons: reasons,
    actionReasons: reasons.map((reason) => `not run as a check: ${reason}`),
    noTransaction: false,
  };
}

/** An action the catalog kept an action: its reasons are now the catalog's, not "not known". */
function withCatalogReasons(action: ActionStep, result: CheckResult): ActionStep {
  const reasons = result.actionReasons ?? [];
  if (reasons.length === 0) return action;
  return { ...action, actionReasons: reasons.map((reason) => `on this target: ${reason}`) };
}

/** A check that could not run, with why (a value that does not bind, an unreachable target). */
export function failed(reason: string): CheckResult {
  return {
    status: 'error',
    columns: [],
    rows: [],
    rowCount: 0,
    truncated: false,
    error: reason,
    durationMs: 0,
  };
}
