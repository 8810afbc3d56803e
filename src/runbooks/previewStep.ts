import { type Refusal, refusal } from '../answer.js';
import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import type { TargetRegistry } from '../targets/registry.js';
import { actionsUnavailableText } from '../targets/target.js';
import { type ActionStep, type Parameter, statementParameters } from './model.js';
import { type ParameterChoices, parameterChoices } from './parameterChoices.js';
import { type RawValues, validateValues } from './procedureParams.js';

export interface PreviewStepDeps {
  procedureRuns: ProcedureRunStore;
  queues: QueueBackend;
  targets: Pick<TargetRegistry, 'list'>;
}

/** Which step of which run: what a step's button or form carries back. */
export interface StepRef {
  runId: string;
  stepId: string;
}

export type PreviewOutcome =
  | { ok: true; kind: 'queued' }
  /**
   * The parameters still without a valid value: the transport asks for them (a form),
   * offering what the run's earlier checks returned for them (by parameter name).
   */
  | {
      ok: true;
      kind: 'needs-parameters';
      run: ProcedureRun;
      step: ActionStep;
      needed: Parameter[];
      choices: Record<string, ParameterChoices>;
    }
  | Refusal;

/**
 * Preview asked for an action: when every parameter it needs has a valid value the preview
 * is queued; otherwise the answer names the missing ones, to be asked for, with the values
 * the run's earlier checks returned for them.
 */
export async function requestPreview(
  deps: PreviewStepDeps,
  ref: StepRef,
  user: string,
  /** The transport's id for this request: one preview per click, however often it is delivered. */
  requestId: string,
): Promise<PreviewOutcome> {
  const found = await findAction(deps, ref);
  if (!found.ok) return found;
  const { run, step } = found;
  // Blank counts as missing for every type (text accepts '' as a value, but not as an answer).
  const needed = statementParameters(step.statement).filter(
    (param) => validateValues([param], run.params).length > 0,
  );
  if (needed.length > 0) {
    const records = await deps.procedureRuns.steps(run.id);
    const choices = parameterChoices(run.procedure.steps, records, step.id, needed);
    return { ok: true, kind: 'needs-parameters', run, step, needed, choices };
  }
  return queuePreview(deps, run, step, user, {}, requestId);
}

/** The values asked for, submitted: the preview queued, or refused with a problem per parameter name. */
export async function submitParameters(
  deps: PreviewStepDeps,
  ref: StepRef,
  values: RawValues,
  user: string,
  requestId: string,
): Promise<PreviewOutcome | (Refusal & { problems: Record<string, string> })> {
  const found = await findAction(deps, ref);
  if (!found.ok) return found;
  // What the preview will bind: the run's values, then the submitted ones. A value left blank
  // is a problem under its name, not a preview job that cannot bind its statement.
  const inputs = { ...found.run.params, ...values };
  const problems: Record<string, string> = {};
  for (const param of statementParameters(found.step.statement)) {
    const [problem] = validateValues([param], inputs);
    if (problem) problems[param.name] = problem;
  }
  const named = Object.keys(problems);
  if (named.length > 0) return refusal(`Some values cannot be used: ${named.join(', ')}.`, { problems });
  return queuePreview(deps, found.run, found.step, user, values, requestId);
}

/** The action asked for, unless it is gone or its target cannot run actions (said before any form). */
async function findAction(
  deps: PreviewStepDeps,
  ref: StepRef,
): Promise<{ ok: true; run: ProcedureRun; step: ActionStep } | Refusal> {
  const run = await deps.procedureRuns.get(ref.runId);
  const step = run?.procedure.steps.find((candidate) => candidate.id === ref.stepId);
  if (!run || step?.kind !== 'action') return refusal('That step no longer exists; run the procedure again.');
  const target = deps.targets.list().find((candidate) => candidate.name === run.target);
  const unavailable = target && actionsUnavailableText(target);
  if (unavailable) return refusal(unavailable);
  return { ok: true, run, step };
}

async function queuePreview(
  deps: PreviewStepDeps,
  run: ProcedureRun,
  step: ActionStep,
  user: string,
  values: RawValues,
  requestId: string,
): Promise<PreviewOutcome> {
  try {
    await deps.queues.enqueue({
      name: JOBS.actionPreview,
      data: { runId: run.id, stepId: step.id, requestedBy: user, values },
      occasion: { click: requestId },
    });
    return { ok: true, kind: 'queued' };
  } catch {
    return refusal('The job queue is unavailable right now; press Preview again in a minute.');
  }
}
