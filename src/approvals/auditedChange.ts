import type { AuditLog } from '../audit/auditLog.js';
import type { AuditEvent, AuditEventInput } from '../audit/events.js';
import { enqueueAuditMirror, mirrorOf } from '../audit/outbox.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { ActionRequest, InTransaction } from '../store/actionRequests.js';
import type { ProcedureRun } from '../store/procedureRuns.js';

/**
 * Runs a state change with its audit event appended in the same transaction, then queues
 * the event's mirror to the run's thread once the change has committed.
 */
export async function auditedChange<T>(
  deps: { audit: AuditLog; queues: QueueBackend },
  run: ProcedureRun,
  actor: string,
  kind: AuditEventInput['kind'],
  data: (request: ActionRequest) => Record<string, unknown>,
  change: (audit: InTransaction) => Promise<T>,
): Promise<T> {
  const appended: AuditEvent[] = [];
  const mirror = mirrorOf(run);
  const result = await change(async (client, request) => {
    appended.push(
      await deps.audit.append(
        {
          kind,
          actor,
          target: request.target,
          runId: run.id,
          requestId: request.id,
          data: data(request),
          mirror,
        },
        client,
      ),
    );
  });
  if (mirror) for (const event of appended) await mirrorQuietly(deps.queues, { ...event, mirror });
  return result;
}

/**
 * Queues an event's mirror; a queue that is down does not undo or hide the committed change
 * it records: the event waits in the outbox, and the thread's next mirror job posts it (a
 * mirror job posts every unposted event of its thread up to its own).
 */
export async function mirrorQuietly(
  queues: QueueBackend,
  event: AuditEvent & { mirror: { channel: string; threadTs?: string } },
): Promise<void> {
  await enqueueAuditMirror(queues, event).catch(() => undefined);
}
