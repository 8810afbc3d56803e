import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';

/** Queues a re-render of the request's card (posted the first time, updated after). */
export async function refreshCard(queues: QueueBackend, requestId: string): Promise<void> {
  // A fresh job per change: the card job renders whatever the state is when it runs.
  await queues.enqueue({ name: JOBS.requestCard, data: { requestId } });
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
  await queues.enqueue({ name: JOBS.approvalExpiry, data: { requestId }, delayMs: dueInMs + 500 });
}

/** The execution of an approved request: queued once, however many approvals race (the catalog's id rule). */
export async function queueExecution(queues: QueueBackend, requestId: string): Promise<void> {
  await queues.enqueue({ name: JOBS.executeAction, data: { requestId } });
}
