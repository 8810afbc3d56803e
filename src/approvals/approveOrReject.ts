import { type Answer, done, refusal } from '../answer.js';
import type { ActionRequest } from '../store/actionRequests.js';
import { utcMinute } from '../time.js';
import { auditedChange } from './auditedChange.js';
import { mayApprove, mayReject } from './policy.js';
import { admitClick, refuseClick } from './refusals.js';
import type { ApprovalDeps } from './requestContext.js';
import { queueExecution, refreshCard } from './requestJobs.js';

/**
 * Approve pressed on a pending request: one approval by someone the policy allows (never the
 * author of a medium- or high-risk plan); the last one needed approves it and queues its
 * execution.
 */
export async function approve(deps: ApprovalDeps, requestId: string, user: string): Promise<Answer> {
  const admitted = await admitClick(deps, requestId, user, mayApprove);
  if (!admitted.ok) return admitted;
  const { request, run, policy } = admitted;
  const result = await auditedChange(
    deps,
    run,
    user,
    'approved',
    (updated) => ({
      planHash: updated.planHash,
      approvals: updated.approvers.length,
      required: updated.requiredApprovals,
    }),
    (audit) => deps.requests.approve(requestId, user, policy.executionWindowMs, audit),
  );
  if (!result.ok) {
    // Approved, but its execution job may never have been queued (the queue failed right
    // after the approval committed): queueing again is harmless, the job id is unique.
    const refused = await refuseClick(deps, request, run, user, result.reason);
    if (result.request?.status === 'approved' && !(await executionQueued(deps, requestId)))
      return refusal(`${result.reason} ${queueDown(result.request)}`);
    return refused;
  }
  if (result.request.status !== 'approved') {
    // Recorded whatever the queue says; the card catches up with the next change.
    await refreshCard(deps.queues, requestId).catch(() => undefined);
    return done(
      `Approval recorded (${result.request.approvers.length} of ${result.request.requiredApprovals}).`,
    );
  }
  // The approval is committed, whatever the queue does now. With the queue down, the
  // approver is told so and nothing is asked of them: pressing Approve again would only
  // be refused as "already approved". The recovery sweep queues the execution once the
  // queue is back (the job id is the request id, so never twice), or lapses the request
  // when its window has passed first; the card follows either way.
  if (!(await executionQueued(deps, requestId)))
    return done(`Approval recorded. ${queueDown(result.request)}`);
  await refreshCard(deps.queues, requestId).catch(() => undefined);
  return done('Approved: executing now.');
}

/** Reject pressed: by an approver, or by whoever previewed or requested it. */
export async function reject(deps: ApprovalDeps, requestId: string, user: string): Promise<Answer> {
  const admitted = await admitClick(deps, requestId, user, mayReject);
  if (!admitted.ok) return admitted;
  const { request, run } = admitted;
  const result = await auditedChange(
    deps,
    run,
    user,
    'rejected',
    () => ({}),
    (audit) => deps.requests.reject(requestId, audit),
  );
  if (!result.ok) return refuseClick(deps, request, run, user, result.reason);
  // Rejected whatever the queue does now: the card catches up with the next change.
  await refreshCard(deps.queues, requestId).catch(() => undefined);
  return done();
}

/** False when the queue is unavailable. */
async function executionQueued(deps: ApprovalDeps, requestId: string): Promise<boolean> {
  try {
    await queueExecution(deps.queues, requestId);
    return true;
  } catch {
    return false;
  }
}

/** What an approver is told when the approval is recorded but its execution could not be queued. */
function queueDown(request: ActionRequest): string {
  const by = request.executeBy ? ` before ${utcMinute(request.executeBy)}` : '';
  return (
    `The job queue is unavailable right now, so it has not started: it runs once, when the queue is back${by} ` +
    '(its execution window); after that it lapses and nothing runs.'
  );
}
