import { appendAudited } from '../audit/outbox.js';
import { JOBS } from '../jobs/catalog.js';
import { JobCannotSucceed } from '../jobs/processors.js';
import { errorText } from '../redact.js';
import { type ExecutionResult, executeAction, limitsFor } from '../remediation/execute.js';
import type { Plan } from '../remediation/plan.js';
import { reenableRowSecurity } from '../remediation/rowSecurity.js';
import { type CheckResult, runChecks } from '../runbooks/execute/runChecks.js';
import type { CheckStep } from '../runbooks/model.js';
import { bindStatement, type RawValues } from '../runbooks/procedureParams.js';
import type { ProcedureRun } from '../store/procedureRuns.js';
import type { TargetRegistry } from '../targets/registry.js';
import { utcMinute } from '../time.js';
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
    result = await executeAction(
      deps.pools.remediation(target),
      target,
      step,
      request.params,
      request.plan as unknown as Plan,
      limitsFor(target, step),
    );
  } catch (err) {
    result = { status: 'failed', error: errorText(err) };
  }
  const reverting = await scheduleRevert(deps, requestId, request.plan as unknown as Plan, result);
  const after = await verify();
  const summary = `${resultSummary(result)}${reverting}`;
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

/**
 * A change the bot undoes by itself (row-level security turned off for a test) is scheduled
 * to be undone as soon as it may have taken effect; the summary says when, or that it could
 * not be scheduled and must be undone by hand.
 */
async function scheduleRevert(
  deps: ActionJobDeps,
  requestId: string,
  plan: Plan,
  result: ExecutionResult,
): Promise<string> {
  const revert = plan.revert;
  if (!revert || (result.status !== 'succeeded' && result.status !== 'outcome_unknown')) return '';
  try {
    await deps.queues.enqueue({ name: JOBS.rowSecurityRevert, data: { requestId }, delayMs: revert.afterMs });
    return `; the bot turns row-level security back on at ${utcMinute(new Date(Date.now() + revert.afterMs))}`;
  } catch (err) {
    deps.logger.error({ err, requestId }, 'could not schedule turning row-level security back on');
    return `; the bot could not schedule turning row-level security back on: run ${revert.sql} by hand`;
  }
}

/** The scheduled undo of a request's change: row-level security back on, audited in the run's thread. */
export async function revertRequest(deps: ActionJobDeps, requestId: string): Promise<void> {
  const request = await deps.requests.get(requestId);
  if (!request) throw new JobCannotSucceed(`request ${requestId} does not exist`);
  const revert = (request.plan as unknown as Plan).revert;
  if (!revert) return;
  const { run } = await loadAction(deps, request.runId, request.stepId);
  const target = deps.targets.resolve(request.target);
  const outcome = await reenableRowSecurity(deps.pools.remediation(target), target, revert);
  await appendAudited(deps, run, {
    kind: 'reverted',
    actor: 'runbook-bot',
    target: request.target,
    runId: run.id,
    requestId,
    data: { sql: revert.sql, outcome },
  });
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
  const runnable = chosen.flatMap((step) => {
    const binding = bindStatement(step.statement, inputs);
    return binding.ok ? [{ step, values: binding.values, session: binding.session }] : [];
  });
  if (runnable.length === 0) return 'no verification check';
  try {
    const results = await runChecks(deps.pools.readOnly(target), target, runnable);
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
