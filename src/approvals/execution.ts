import { appendAudited } from '../audit/outbox.js';
import { JOBS } from '../jobs/catalog.js';
import { JobCannotSucceed } from '../jobs/processors.js';
import { errorText } from '../redact.js';
import { type ExecutionResult, executeAction, limitsFor } from '../remediation/execute.js';
import type { Plan } from '../remediation/plan.js';
import { reenableRowSecurity } from '../remediation/rowSecurity.js';
import { verdictOf } from '../runbooks/execute/procedureChecks.js';
import { type CheckResult, runChecks } from '../runbooks/execute/runChecks.js';
import { describeRows } from '../runbooks/expectations.js';
import { resolveIdentifiers } from '../runbooks/identifiers.js';
import type { CheckStep } from '../runbooks/model.js';
import {
  asCatalogNames,
  type BoundSetting,
  bindStatement,
  type RawValues,
} from '../runbooks/procedureParams.js';
import type { ProcedureRun } from '../store/procedureRuns.js';
import type { TargetRegistry } from '../targets/registry.js';
import { utcMinute } from '../time.js';
import { type ActionJobDeps, loadAction } from './actionJob.js';
import { auditedChange } from './auditedChange.js';
import { batchCounts, progressLeft, recordBatches, stoppedSummary } from './batchProgress.js';

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
  const verify = (): Promise<VerificationOutcome> =>
    target
      ? verification(deps, run, target, inputs)
      : Promise.resolve({ text: `could not run: ${unavailable}`, failing: [] });

  if (request.status === 'executing') {
    const after = await verify();
    const progress = progressLeft(request);
    const counts = progress ? { batches: progress } : {};
    await auditedChange(
      deps,
      run,
      'runbook-bot',
      'outcome_unknown',
      () => ({ verification: after.text, ...verdictData(after), ...counts }),
      (audit) =>
        deps.requests.finishExecution(
          requestId,
          'outcome_unknown',
          {
            summary: stoppedSummary(progress),
            verification: { after: after.text, ...verdictData(after) },
            ...counts,
          },
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
      recordBatches(deps, requestId),
    );
  } catch (err) {
    result = { status: 'failed', error: errorText(err) };
  }
  const reverting = await scheduleRevert(deps, requestId, request.plan as unknown as Plan, result);
  const after = await verify();
  const summary = `${resultSummary(result, after)}${reverting}`;
  const verified = { before: before.text, after: after.text, ...verdictData(after) };
  await auditedChange(
    deps,
    run,
    'runbook-bot',
    'execution_finished',
    () => ({ status: result.status, summary, ...verdictData(after), ...batchCounts(result) }),
    (audit) =>
      deps.requests.finishExecution(
        requestId,
        result.status,
        { summary, result: { ...result, current: undefined }, verification: verified },
        audit,
      ),
  );
  await appendAudited(deps, run, {
    kind: 'verification',
    actor: 'runbook-bot',
    target: request.target,
    runId: run.id,
    requestId,
    data: verified,
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

/** Whether the verification met what its checks expect, for the card and the audit line. */
function verdictData(outcome: VerificationOutcome): { met?: boolean } {
  return outcome.met === undefined ? {} : { met: outcome.met };
}

/**
 * The outcome in a sentence. An execution that went through while its verification still
 * fails is not reported as a success: the execution status stays (the statement did run and
 * commit), the words say what is still wrong.
 */
function resultSummary(result: ExecutionResult, after: VerificationOutcome): string {
  const stillFails = after.met === false ? after.failing.join('; ') : undefined;
  switch (result.status) {
    case 'succeeded':
      return stillFails
        ? `executed, but verification still fails: ${stillFails} (${result.summary})`
        : result.summary;
    case 'nothing_done':
      return stillFails ? `${result.summary}; verification still fails: ${stillFails}` : result.summary;
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

/** The verification checks' results in one line, and whether they met what they expect. */
export interface VerificationOutcome {
  text: string;
  /** Absent when no verification check carries an expectation (or none could run). */
  met?: boolean;
  /** The checks whose expectation was not met (or that could not run to say), each with what came back. */
  failing: string[];
}

/**
 * The procedure's verification checks (its "Verification" section), or else its
 * diagnostic checks, run now and summarized in one line: what "after" is compared with.
 * Each check reads the same way before and after (`2 rows: status=failed, count=3; …`), with
 * its verdict when it expects something.
 */
async function verification(
  deps: ActionJobDeps,
  run: ProcedureRun,
  target: ReturnType<TargetRegistry['resolve']>,
  inputs: RawValues,
): Promise<VerificationOutcome> {
  const checks = run.procedure.steps.filter((step): step is CheckStep => step.kind === 'check');
  const verifying = checks.filter((step) => step.role === 'verify');
  const chosen = verifying.length > 0 ? verifying : checks.filter((step) => step.role === 'diagnose');
  const pool = deps.pools.readOnly(target);
  const runnable: Array<{ step: CheckStep; values: Array<string | number>; session: BoundSetting[] }> = [];
  try {
    for (const step of chosen) {
      const binding = bindStatement(step.statement, asCatalogNames(run.procedure.steps, inputs));
      if (!binding.ok) continue;
      // Names in it (`<table>`) are looked up and quoted as its preview's were.
      const resolved = await resolveIdentifiers(pool, step.statement, inputs);
      if (resolved.ok)
        runnable.push({
          step: { ...step, statement: resolved.statement },
          values: binding.values,
          session: binding.session,
        });
    }
    if (runnable.length === 0) return { text: 'no verification check', failing: [] };
    const results = await runChecks(pool, target, runnable);
    return summarizeVerification(runnable.map((check, i) => ({ step: check.step, result: results[i]! })));
  } catch (err) {
    const expecting = runnable.some((check) => check.step.expect);
    const text = `could not run: ${errorText(err)}`;
    return expecting ? { text, met: false, failing: [text] } : { text, failing: [] };
  }
}

/** One line for the checks' results; `met` only when some check expects something. */
export function summarizeVerification(
  checks: Array<{ step: CheckStep; result: CheckResult }>,
): VerificationOutcome {
  const failing: string[] = [];
  let expecting = false;
  const parts = checks.map(({ step, result }) => {
    const described = describeResult(result);
    if (!step.expect) return `${step.title}: ${described}`;
    expecting = true;
    const verdict = verdictOf(step, result);
    if (!verdict) {
      failing.push(`${step.title}: expected ${step.expect.text}, ${described}`);
      return `${step.title}: ${described} (expected ${step.expect.text}: not judged)`;
    }
    if (!verdict.met) failing.push(`${step.title}: expected ${verdict.expected}, got ${verdict.got}`);
    return `${step.title}: ${described} (expected ${verdict.expected}: ${verdict.met ? 'met' : 'not met'})`;
  });
  return { text: parts.join('; '), failing, ...(expecting ? { met: failing.length === 0 } : {}) };
}

function describeResult(result: CheckResult): string {
  if (result.status === 'error') return `error: ${result.error}`;
  if (result.status === 'action') return result.error ?? 'not run as a check';
  return describeRows(result);
}
