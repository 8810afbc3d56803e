import { appendAudited } from '../audit/outbox.js';
import { JobCannotSucceed } from '../jobs/processors.js';
import { errorText } from '../redact.js';
import { type ExecutionResult, executeAction, limitsFor } from '../remediation/execute.js';
import type { Plan } from '../remediation/plan.js';
import { type CheckResult, runChecks } from '../runbooks/execute/runChecks.js';
import { resolveIdentifiers } from '../runbooks/identifiers.js';
import type { CheckStep } from '../runbooks/model.js';
import { type BoundSetting, bindStatement, type RawValues } from '../runbooks/procedureParams.js';
import type { ProcedureRun } from '../store/procedureRuns.js';
import type { TargetRegistry } from '../targets/registry.js';
import { type ActionJobDeps, loadAction } from './actionJob.js';
import { auditedChange } from './auditedChange.js';

/**
 * Executes an approved request at most once. The request row moves approved → executing
 * before anything is sent; a job that finds it already executing is the same job picked up
 * again after its worker died, so it reports "outcome unknown" with the verification
 * check's current result, and never runs the action again.
 */
export async function executeRequest(deps: ActionJobDeps, requestId: string): Promise<void> {
  const request = await deps.requests.get(requestId);
  if (!request) throw new JobCannotSucceed(`request ${requestId} does not exist`);
  const { run, step } = await loadAction(deps, request.runId, request.stepId);
  const inputs = ((request.plan as { inputs?: RawValues }).inputs ?? {}) as RawValues;
  // A target removed from configuration since the approval fails the request, visibly,
  // rather than leaving it approved with a card that says it is executing.
  let target: ReturnType<TargetRegistry['resolve']> | undefined;
  let unavailable = '';
  try {
    target = deps.targets.resolve(request.target);
  } catch (err) {
    unavailable = errorText(err);
  }
  const verify = () =>
    target ? verification(deps, run, target, inputs) : Promise.resolve(`could not run: ${unavailable}`);

  if (request.status === 'executing') {
    const after = await verify();
    await auditedChange(
      deps,
      run,
      'runbook-bot',
      'outcome_unknown',
      () => ({ verification: after }),
      (audit) =>
        deps.requests.finishExecution(
          requestId,
          'outcome_unknown',
          { summary: 'The worker stopped during execution; it was not run again.', verification: { after } },
          audit,
        ),
    );
    await deps.approvals.refreshCard(requestId);
    return;
  }
  const started = await auditedChange(
    deps,
    run,
    'runbook-bot',
    'execution_started',
    (current) => ({
      sql: current.sql,
      params: current.params,
      planHash: current.planHash,
      approvers: current.approvers,
    }),
    (audit) => deps.requests.startExecution(requestId, audit),
  );
  if (!started.ok) {
    deps.logger.info({ requestId, reason: started.reason }, 'execution not started');
    // Came after the window (the queue was down, or no worker free): the request ends
    // lapsed, audited and shown on the card, rather than staying "approved" for ever.
    if (started.windowPassed) await deps.approvals.lapse(requestId);
    else await deps.approvals.refreshCard(requestId);
    return;
  }
  const before = await verify();
  let result: ExecutionResult;
  try {
    if (!target) throw new Error(unavailable);
    const pool = deps.pools.remediation(target);
    // Found in the catalog again: a name dropped or renamed since the approval is not run,
    // and the statement compared with the approved plan is the one spliced the same way.
    const resolved = await resolveIdentifiers(pool, step.statement, inputs);
    if (!resolved.ok) throw new Error(resolved.problems.join('; '));
    result = await executeAction(
      pool,
      target,
      { ...step, statement: resolved.statement },
      request.params,
      request.plan as unknown as Plan,
      limitsFor(target, step),
    );
  } catch (err) {
    result = { status: 'failed', error: errorText(err) };
  }
  const after = await verify();
  const summary = resultSummary(result);
  await auditedChange(
    deps,
    run,
    'runbook-bot',
    'execution_finished',
    () => ({ status: result.status, summary }),
    (audit) =>
      deps.requests.finishExecution(
        requestId,
        result.status,
        { summary, result: { ...result, current: undefined }, verification: { before, after } },
        audit,
      ),
  );
  await appendAudited(deps, run, {
    kind: 'verification',
    actor: 'runbook-bot',
    target: request.target,
    runId: run.id,
    requestId,
    data: { before, after },
  });
  await deps.approvals.refreshCard(requestId);
}

function resultSummary(result: ExecutionResult): string {
  switch (result.status) {
    case 'succeeded':
      return result.summary;
    case 'nothing_done':
      return result.summary;
    case 'changed':
      return `Not executed: ${result.reason}`;
    case 'aborted':
      return `Aborted and rolled back: ${result.reason}`;
    case 'failed':
      return `Failed: ${result.error}`;
    case 'outcome_unknown':
      return `Outcome unknown: ${result.reason}; see the verification`;
  }
}

/**
 * The procedure's verification checks (its "Verification" section), or else its
 * diagnostic checks, run now and summarized in one line: what "after" is compared with.
 */
async function verification(
  deps: ActionJobDeps,
  run: ProcedureRun,
  target: ReturnType<TargetRegistry['resolve']>,
  inputs: RawValues,
): Promise<string> {
  const checks = run.procedure.steps.filter((step): step is CheckStep => step.kind === 'check');
  const verifying = checks.filter((step) => step.role === 'verify');
  const chosen = verifying.length > 0 ? verifying : checks.filter((step) => step.role === 'diagnose');
  const pool = deps.pools.readOnly(target);
  const runnable: Array<{ step: CheckStep; values: Array<string | number>; session: BoundSetting[] }> = [];
  try {
    for (const step of chosen) {
      const binding = bindStatement(step.statement, inputs);
      if (!binding.ok) continue;
      const resolved = await resolveIdentifiers(pool, step.statement, inputs);
      if (resolved.ok)
        runnable.push({
          step: { ...step, statement: resolved.statement },
          values: binding.values,
          session: binding.session,
        });
    }
  } catch (err) {
    return `could not run: ${errorText(err)}`;
  }
  if (runnable.length === 0) return 'no verification check';
  try {
    const results = await runChecks(pool, target, runnable);
    return runnable.map((check, i) => `${check.step.title}: ${describeResult(results[i]!)}`).join('; ');
  } catch (err) {
    return `could not run: ${errorText(err)}`;
  }
}

function describeResult(result: CheckResult): string {
  if (result.status === 'error') return `error: ${result.error}`;
  if (result.status === 'action') return result.error ?? 'not run as a check';
  if (result.rowCount === 1 && result.columns.length <= 3)
    return result.columns.map((column, i) => `${column}=${result.rows[0]?.[i]}`).join(', ');
  return `${result.rowCount} rows`;
}
