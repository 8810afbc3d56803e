import { JOBS } from '../jobs/catalog.js';
import type { ActionJobDeps } from './actionJob.js';
import { auditedChange } from './auditedChange.js';

/**
 * Expires a request nobody approved in time (its delayed job fires at the expiry); nothing
 * when it moved on meanwhile.
 */
export async function expireRequest(deps: ActionJobDeps, requestId: string): Promise<void> {
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
    await deps.queues.enqueue({
      name: JOBS.approvalExpiry,
      data: { requestId },
      occasion: { rearmedAt: Date.now() },
      delayMs: Math.ceil(result.dueInMs) + 500,
    });
}
