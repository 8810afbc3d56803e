import { auditedChange } from './auditedChange.js';
import { type ApprovalDeps, loadRequest } from './requestContext.js';
import { refreshCard } from './requestJobs.js';

/**
 * approved → lapsed once its execution window has passed without a worker starting it
 * (the execution job came late or never); the card says so, without buttons. False when
 * it was not (yet) to be lapsed.
 */
export async function lapse(deps: ApprovalDeps, requestId: string): Promise<boolean> {
  const loaded = await loadRequest(deps, requestId);
  if (!loaded.ok) return false;
  const result = await auditedChange(
    deps,
    loaded.run,
    'runbook-bot',
    'lapsed',
    (updated) => ({
      planHash: updated.planHash,
      approvedAt: updated.approvedAt?.toISOString(),
      executeBy: updated.executeBy?.toISOString(),
    }),
    (audit) => deps.requests.lapse(requestId, audit),
  );
  if (!result.ok) return false;
  // The sweep goes on with its other requests when the queue cannot take the card now.
  await refreshCard(deps.queues, requestId).catch(() => undefined);
  return true;
}

/** pending → expired for a request whose expiry job was lost (the recovery sweep's part). */
export async function expireOverdue(deps: ApprovalDeps, requestId: string): Promise<boolean> {
  const loaded = await loadRequest(deps, requestId);
  if (!loaded.ok) return false;
  const result = await auditedChange(
    deps,
    loaded.run,
    'runbook-bot',
    'expired',
    () => ({}),
    (audit) => deps.requests.expire(requestId, audit),
  );
  if (!result.ok) return false;
  // The sweep goes on with its other requests when the queue cannot take the card now.
  await refreshCard(deps.queues, requestId).catch(() => undefined);
  return true;
}
