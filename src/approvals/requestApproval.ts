import { type Answer, done, refusal } from '../answer.js';
import type { ActionRequest } from '../store/actionRequests.js';
import { utcMinute } from '../time.js';
import { auditedChange } from './auditedChange.js';
import { mayRequest } from './policy.js';
import { admitClick, refuseClick } from './refusals.js';
import type { ApprovalDeps } from './requestContext.js';
import { queueExpiry, refreshCard } from './requestJobs.js';

/**
 * "Request approval" pressed on a previewed action: if the policy lets this person ask, the
 * request becomes pending with the number of approvals it needs and its expiry, audited;
 * the card then shows Approve to the approvers.
 */
export async function requestApproval(deps: ApprovalDeps, requestId: string, user: string): Promise<Answer> {
  const admitted = await admitClick(deps, requestId, user, mayRequest);
  if (!admitted.ok) return admitted;
  const { request, run, policy } = admitted;
  const result = await auditedChange(
    deps,
    run,
    user,
    'approval_requested',
    (updated) => ({
      planHash: updated.planHash,
      requiredApprovals: updated.requiredApprovals,
      expiresAt: updated.expiresAt?.toISOString(),
    }),
    (audit) => deps.requests.requestApproval(requestId, user, policy.approvals, policy.expiryMs, audit),
  );
  if (!result.ok) {
    const refused = await refuseClick(deps, request, run, user, result.reason);
    // Pending already: its card and expiry job may never have been queued (the queue failed
    // right after the request committed); queueing them again is harmless.
    if (request.status === 'pending' && !(await queuePending(deps, request)))
      return refusal(`${result.reason} ${cardWaits(request)}`);
    return refused;
  }
  // Requested, whatever the queue does now; with it down, the card cannot show Approve
  // yet, and the requester is told so rather than "that did not go through".
  if (!(await queuePending(deps, result.request)))
    return done(`Approval requested. ${cardWaits(result.request)}`);
  return done();
}

/** The card (now with Approve) and the expiry job. False when the queue is unavailable. */
async function queuePending(deps: ApprovalDeps, request: ActionRequest): Promise<boolean> {
  try {
    await refreshCard(deps.queues, request.id);
    await queueExpiry(deps.queues, request.id, request.expiresAt);
    return true;
  } catch {
    return false;
  }
}

/** What a requester is told when the request is recorded but its card could not be queued. */
function cardWaits(request: ActionRequest): string {
  const at = request.expiresAt ? ` (it expires at ${utcMinute(request.expiresAt)} either way)` : '';
  return (
    'The job queue is unavailable right now, so the card does not show Approve yet: ' +
    `press Request approval again once the queue is back${at}.`
  );
}
