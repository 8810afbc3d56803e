import { type Job, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import type { AuditLog } from '../audit/auditLog.js';
import { actionPreviewJobSchema, JOBS, QUEUES, RETENTION, requestJobSchema } from '../jobs/payloads.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { errorText } from '../redact.js';
import { DEFAULT_LIMITS, type ExecutionResult, executeAction } from '../remediation/execute.js';
import { computePlan, type Plan } from '../remediation/plan.js';
import { type CheckResult, runChecks } from '../runbooks/execute/runChecks.js';
import type { ActionStep, CheckStep } from '../runbooks/model.js';
import { bindStatement, type RawValues } from '../runbooks/procedureParams.js';
import type { ActionRequestStore } from '../store/actionRequests.js';
import type { ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import { failureText } from '../targets/connectionErrors.js';
import type { TargetPools } from '../targets/pools.js';
import type { TargetRegistry } from '../targets/registry.js';
import type { ApprovalService } from './approvalService.js';
import { appendAudited, auditedChange } from './auditedChange.js';

export interface RemediationDeps {
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  pools: TargetPools;
  queues: QueueBackend;
  audit: AuditLog;
  approvals: ApprovalService;
  logger: Logger;
}

/**
 * The jobs that touch a target on behalf of an action: computing its preview, expiring an
 * unapproved request, and executing an approved one, at most once.
 */
export function remediationProcessor(deps: RemediationDeps) {
  return async (job: Job): Promise<void> => {
    switch (job.name) {
      case JOBS.actionPreview:
        return preview(deps, parse(actionPreviewJobSchema, job.data));
      case JOBS.approvalExpiry:
        return expire(deps, parse(requestJobSchema, job.data).requestId);
      case JOBS.executeAction:
        return execute(deps, parse(requestJobSchema, job.data).requestId);
      default:
        throw new UnrecoverableError(`unknown remediation job "${job.name}"`);
    }
  };
}

function parse<S extends z.ZodType>(schema: S, data: unknown): z.infer<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new UnrecoverableError(`invalid remediation payload: ${parsed.error.message}`);
  return parsed.data;
}

async function loadAction(
  deps: RemediationDeps,
  runId: string,
  stepId: string,
): Promise<{ run: ProcedureRun; step: ActionStep; position: number }> {
  const run = await deps.procedureRuns.get(runId);
  const position = run?.procedure.steps.findIndex((step) => step.id === stepId) ?? -1;
  const step = run?.procedure.steps[position];
  if (!run || step?.kind !== 'action') throw new UnrecoverableError(`run ${runId} has no action ${stepId}`);
  return { run, step, position };
}

/** Computes the plan (nothing with effects outside a rolled-back transaction) and posts its card. */
async function preview(
  deps: RemediationDeps,
  job: { runId: string; stepId: string; requestedBy: string; values: RawValues },
): Promise<void> {
  const { run, step } = await loadAction(deps, job.runId, job.stepId);
  const inputs = { ...run.params, ...job.values };
  // A preview that cannot be made is recorded (and so shown in the thread), never dropped.
  const failed = (error: string) =>
    appendAudited(deps, run, {
      kind: 'preview',
      actor: job.requestedBy,
      target: run.target,
      runId: run.id,
      data: { step: step.id, sql: step.statement.sql, error },
    });
  // The Preview button and the modal validate first; a job queued by an older bot may not have.
  const binding = bindStatement(step.statement, inputs);
  if (!binding.ok) {
    await failed(binding.problems.join('; '));
    return;
  }
  let plan: Plan;
  try {
    const target = deps.targets.resolve(run.target);
    plan = await computePlan(deps.pools.remediation(target), target, step, binding.values);
  } catch (err) {
    await failed(failureText(err));
    return;
  }
  const request = await auditedChange(
    deps,
    run,
    job.requestedBy,
    'preview',
    (created) => ({
      step: step.id,
      sql: created.sql,
      params: created.params,
      planHash: created.planHash,
      summary: plan.summary,
    }),
    (audit) =>
      deps.requests.create(
        {
          runId: run.id,
          stepId: step.id,
          target: run.target,
          risk: step.risk,
          sql: plan.sql,
          params: plan.params,
          plan: { ...plan, inputs },
          planHash: plan.hash,
          previewedBy: job.requestedBy,
        },
        audit,
      ),
  );
  await deps.approvals.refreshCard(request.id);
}

async function expire(deps: RemediationDeps, requestId: string): Promise<void> {
  const request = await deps.requests.get(requestId);
  const run = request && (await deps.procedureRuns.get(request.runId));
  if (!request || !run) return;
  const result = await auditedChange(
    deps,
    run,
    'runbook-bot',
    'expired',
    () => ({}),
    (audit) => deps.requests.expire(requestId, audit),
  );
  if (result.ok) await deps.approvals.refreshCard(requestId);
  // Early by the database's clock (the job's delay was counted on this worker's): come back
  // when it is due, rather than leave the request pending for good.
  else if (result.dueInMs !== undefined && Number.isFinite(result.dueInMs))
    await deps.queues
      .queue(QUEUES.remediation)
      .add(
        JOBS.approvalExpiry,
        { requestId },
        { jobId: `expiry-${requestId}-${Date.now()}`, delay: Math.ceil(result.dueInMs) + 500, ...RETENTION },
      );
}

/**
 * Executes an approved request at most once. The request row moves approved → executing
 * before anything is sent; a job that finds it already executing is the same job picked up
 * again after its worker died, so it reports "outcome unknown" with the verification
 * check's current result, and never runs the action again.
 */
async function execute(deps: RemediationDeps, requestId: string): Promise<void> {
  const request = await deps.requests.get(requestId);
  if (!request) throw new UnrecoverableError(`request ${requestId} does not exist`);
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
      DEFAULT_LIMITS,
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
  deps: RemediationDeps,
  run: ProcedureRun,
  target: ReturnType<TargetRegistry['resolve']>,
  inputs: RawValues,
): Promise<string> {
  const checks = run.procedure.steps.filter((step): step is CheckStep => step.kind === 'check');
  const verifying = checks.filter((step) => step.role === 'verify');
  const chosen = verifying.length > 0 ? verifying : checks.filter((step) => step.role === 'diagnose');
  const runnable = chosen.flatMap((step) => {
    const binding = bindStatement(step.statement, inputs);
    return binding.ok ? [{ step, values: binding.values }] : [];
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
