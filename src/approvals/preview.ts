import { appendAudited } from '../audit/outbox.js';
import type { JOBS, JobPayload } from '../jobs/catalog.js';
import type { Plan } from '../remediation/plan.js';
import { planStep } from '../remediation/planStep.js';
import { failureText } from '../targets/connectionErrors.js';
import { type ActionJobDeps, loadAction } from './actionJob.js';
import { auditedChange } from './auditedChange.js';

/** Computes the plan (nothing with effects outside a rolled-back transaction) and posts its card. */
export async function previewAction(
  deps: ActionJobDeps,
  job: JobPayload<typeof JOBS.actionPreview>,
): Promise<void> {
  const { run, step, position } = await loadAction(deps, job.runId, job.stepId);
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
  let plan: Plan;
  try {
    const target = deps.targets.resolve(run.target);
    const planned = await planStep(deps.pools.remediation(target), target, step, inputs, {
      steps: run.procedure.steps,
      position,
    });
    if (!planned.ok) {
      await failed(planned.problems.join('; '));
      return;
    }
    plan = planned.plan;
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
      ...(plan.blocked ? { blocked: plan.blocked.reason } : {}),
      ...(plan.riskRaised ? { riskRaised: plan.riskRaised } : {}),
    }),
    (audit) =>
      deps.requests.create(
        {
          runId: run.id,
          stepId: step.id,
          target: run.target,
          // What the preview found (a whole queue's rows) can make it riskier than its text says.
          risk: plan.riskRaised ? 'high' : step.risk,
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
