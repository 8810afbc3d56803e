import { type Refusal, refusal } from '../answer.js';
import type { AuditLog } from '../audit/auditLog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { ActionRequest, ActionRequestStore } from '../store/actionRequests.js';
import type { ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import type { RefusalRepeatStore } from '../store/refusalRepeats.js';
import type { TargetRegistry } from '../targets/registry.js';
import { type EffectivePolicy, effectivePolicy, type GroupMembers, type PolicyFile } from './policy.js';
import { REQUEST_GONE } from './requestStateMachine.js';

/** What the approval use cases work with. */
export interface ApprovalDeps {
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  policy: PolicyFile;
  members: GroupMembers;
  audit: AuditLog;
  queues: QueueBackend;
  /** Where repeats of one refusal are counted before they reach the audit log. */
  refusals: RefusalRepeatStore;
}

export type LoadedRequest = { ok: true; request: ActionRequest; run: ProcedureRun };

/** The request with the run it belongs to, or the refusal for a click on one that is gone. */
export async function loadRequest(
  deps: Pick<ApprovalDeps, 'requests' | 'procedureRuns'>,
  requestId: string,
): Promise<LoadedRequest | Refusal> {
  const request = await deps.requests.get(requestId);
  const run = request && (await deps.procedureRuns.get(request.runId));
  if (!request || !run) return refusal(REQUEST_GONE);
  return { ok: true, request, run };
}

/** The approval policy that applies to the request (its runbook, target, the target's tags, its risk). */
export function requestPolicy(
  deps: Pick<ApprovalDeps, 'targets' | 'policy'>,
  request: ActionRequest,
  run: ProcedureRun,
): EffectivePolicy {
  const target = deps.targets.list().find((candidate) => candidate.name === request.target);
  return effectivePolicy(deps.policy, {
    runbook: run.runbookId,
    target: request.target,
    targetTags: target?.tags ?? [],
    risk: request.risk,
  });
}
