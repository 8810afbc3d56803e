import type { AuditEventInput } from '../audit/events.js';
import type { ActionRequest, Applied, InTransaction, StoreRefusal } from '../store/actionRequests.js';
import { auditedChange } from './auditedChange.js';
import { type ApprovalDeps, loadRequest } from './requestContext.js';
import { refreshCard } from './requestJobs.js';

/**
 * approved → lapsed once its execution window has passed without a worker starting it
 * (the execution job came late or never); the card says so, without buttons. False when
 * it was not (yet) to be lapsed.
 */
export function lapse(deps: ApprovalDeps, requestId: string): Promise<boolean> {
  return endOverdue(
    deps,
    requestId,
    'lapsed',
    (updated) => ({
      planHash: updated.planHash,
      approvedAt: updated.approvedAt?.toISOString(),
      executeBy: updated.executeBy?.toISOString(),
    }),
    (audit) => deps.requests.lapse(requestId, audit),
  );
}

/** pending → expired for a request whose expiry job was lost (the recovery sweep's part). */
export function expireOverdue(deps: ApprovalDeps, requestId: string): Promise<boolean> {
  return endOverdue(
    deps,
    requestId,
    'expired',
    () => ({}),
    (audit) => deps.requests.expire(requestId, audit),
  );
}

/** Ends a request the system was waiting on, audited by the bot; the card follows. */
async function endOverdue(
  deps: ApprovalDeps,
  requestId: string,
  kind: AuditEventInput['kind'],
  data: (request: ActionRequest) => Record<string, unknown>,
  change: (audit: InTransaction) => Promise<Applied | StoreRefusal>,
): Promise<boolean> {
  const loaded = await loadRequest(deps, requestId);
  if (!loaded.ok) return false;
  const result = await auditedChange(deps, loaded.run, 'runbook-bot', kind, data, change);
  if (!result.ok) return false;
  // The sweep goes on with its other requests when the queue cannot take the card now.
  await refreshCard(deps.queues, requestId).catch(() => undefined);
  return true;
}
