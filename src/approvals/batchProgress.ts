import { type BatchProgress, type OnBatch, progressText } from '../remediation/batchRun.js';
import type { ExecutionResult } from '../remediation/execute.js';
import type { ActionRequest } from '../store/actionRequests.js';
import type { ActionJobDeps } from './actionJob.js';

/**
 * A batched execution's progress, kept on the request while it executes: its card (updated
 * through the card job, one message) shows it after every batch, and a worker that dies
 * mid-way leaves a record of how far it got, which the job picked up again reports instead
 * of running the request again.
 */

/** Records each batch on the request and refreshes its card; a failure to show is logged, never fatal. */
export function recordBatches(deps: ActionJobDeps, requestId: string): OnBatch {
  return async (progress) => {
    try {
      await deps.requests.recordProgress(requestId, {
        summary: `Executing in batches: ${progressText(progress)}`,
        batches: progress,
      });
      await deps.approvals.refreshCard(requestId);
    } catch (err) {
      deps.logger.warn({ err, requestId }, 'could not record the progress of a batched execution');
    }
  };
}

/** The progress a dead worker left on its request, if it was running batches. */
export function progressLeft(request: ActionRequest): BatchProgress | undefined {
  const batches = (request.outcome as { batches?: BatchProgress } | null)?.batches;
  return batches && typeof batches.done === 'number' ? batches : undefined;
}

/** What the request says when its worker stopped during execution. */
export function stoppedSummary(progress: BatchProgress | undefined): string {
  if (!progress) return 'The worker stopped during execution; it was not run again.';
  return `The worker stopped during a batched execution: at least ${progressText(progress)} (the batch in flight may have committed too); it was not run again. Preview it again for the rows left.`;
}

/** The batch counts of a result, for the audit event and the stored outcome. */
export function batchCounts(result: ExecutionResult): { batches?: BatchProgress } {
  return 'batches' in result && result.batches ? { batches: result.batches } : {};
}
