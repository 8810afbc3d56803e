import type { Answer } from '../answer.js';
import { approve, reject } from './approveOrReject.js';
import { expireOverdue, lapse } from './overdueRequests.js';
import { flushRefusals, REFUSAL_REPEAT_WINDOW_MS, refusedAccess } from './refusals.js';
import { requestApproval } from './requestApproval.js';
import type { ApprovalDeps } from './requestContext.js';
import { refreshCard } from './requestJobs.js';

export type { ApprovalDeps } from './requestContext.js';

/**
 * The approval use cases behind one object, as the Slack side, the jobs and the recovery
 * sweep hold them: who may ask and approve is approvals/policy.ts, what a request may become
 * is approvals/requestStateMachine.ts, and each use case has its own file. Every refusal
 * comes back as a sentence for the person who clicked; every state change is audited in the
 * same transaction and mirrored to the run's thread.
 */
export class ApprovalService {
  constructor(private readonly deps: ApprovalDeps) {}

  requestApproval(requestId: string, user: string): Promise<Answer> {
    return requestApproval(this.deps, requestId, user);
  }

  approve(requestId: string, user: string): Promise<Answer> {
    return approve(this.deps, requestId, user);
  }

  reject(requestId: string, user: string): Promise<Answer> {
    return reject(this.deps, requestId, user);
  }

  /** Queues a re-render of the request's card; throws when the queue is unavailable. */
  refreshCard(requestId: string): Promise<void> {
    return refreshCard(this.deps.queues, requestId);
  }

  refusedAccess(requestId: string, user: string, reason: string): Promise<void> {
    return refusedAccess(this.deps, requestId, user, reason);
  }

  flushRefusals(quietMs = REFUSAL_REPEAT_WINDOW_MS): Promise<number> {
    return flushRefusals(this.deps, quietMs);
  }

  lapse(requestId: string): Promise<boolean> {
    return lapse(this.deps, requestId);
  }

  expireOverdue(requestId: string): Promise<boolean> {
    return expireOverdue(this.deps, requestId);
  }
}
