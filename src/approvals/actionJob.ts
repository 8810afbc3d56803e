import type { AuditLog } from '../audit/auditLog.js';
import { JobCannotSucceed } from '../jobs/processors.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import type { ActionStep } from '../runbooks/model.js';
import type { ActionRequestStore } from '../store/actionRequests.js';
import type { ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import type { TargetPools } from '../targets/pools.js';
import type { TargetRegistry } from '../targets/registry.js';
import type { ApprovalService } from './approvalService.js';

/**
 * What the jobs that touch a target on behalf of an action need: computing its preview
 * (preview.ts), expiring an unapproved request (expiry.ts), and executing an approved one,
 * at most once (execution.ts).
 */
export interface ActionJobDeps {
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  pools: TargetPools;
  queues: QueueBackend;
  audit: AuditLog;
  approvals: ApprovalService;
  logger: Logger;
}

export async function loadAction(
  deps: Pick<ActionJobDeps, 'procedureRuns'>,
  runId: string,
  stepId: string,
): Promise<{ run: ProcedureRun; step: ActionStep; position: number }> {
  const run = await deps.procedureRuns.get(runId);
  const position = run?.procedure.steps.findIndex((step) => step.id === stepId) ?? -1;
  const step = run?.procedure.steps[position];
  if (!run || step?.kind !== 'action') throw new JobCannotSucceed(`run ${runId} has no action ${stepId}`);
  return { run, step, position };
}
