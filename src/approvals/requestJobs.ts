import { JOBS, POST_JOB_OPTIONS, QUEUES, RETENTION } from '../jobs/payloads.js';
import type { QueueBackend } from '../jobs/queueBackend.js';

/** Queues a re-render of the request's card (posted the first time, updated after). */
export async function refreshCard(queues: QueueBackend, requestId: string): Promise<void> {
  await queues.queue(QUEUES.notifications).add(
    JOBS.requestCard,
    { requestId },
    // A fresh job per change: the card job renders whatever the state is when it runs.
    POST_JOB_OPTIONS,
  );
}

/**
 * The expiry of a pending request, as a delayed job that survives restarts and does nothing
 * if the request moved on. Counted on this clock; a job that comes early by the database's
 * comes back (see the expiry job).
 */
export async function queueExpiry(
  queues: QueueBackend,
  requestId: string,
  expiresAt: Date | null,
): Promise<void> {
  const dueInMs = Math.max(0, (expiresAt?.getTime() ?? Date.now()) - Date.now());
  await queues
    .queue(QUEUES.remediation)
    .add(
      JOBS.approvalExpiry,
      { requestId },
      { jobId: `expiry-${requestId}`, delay: dueInMs + 500, ...RETENTION },
    );
}

/** The execution job of a request: its id is the request's, so it is queued once however often it is added. */
export function executionJob(requestId: string) {
  return [JOBS.executeAction, { requestId }, { jobId: requestId, attempts: 1, ...RETENTION }] as const;
}
