import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { type AuditMirrorJob, JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import { markMirrored, releaseMirror, takeToMirror } from '../store/auditOutbox.js';
import type { ProcedureRun } from '../store/procedureRuns.js';
import type { AuditLog } from './auditLog.js';
import type { AuditEvent, AuditEventInput, AuditMirrorTarget } from './events.js';

/**
 * The audit outbox: an event appended with a `mirror` gets an outbox row in the same
 * transaction, and a mirror job posts the thread's unposted rows in order, each once. This
 * module knows no chat platform: the poster is handed in (slack/posts/auditMirror.ts).
 */

/** Appends an audit event on its own and, when it has a thread to go to, queues its mirror. */
export async function appendMirrored(
  deps: { audit: AuditLog; queues: QueueBackend },
  event: AuditEventInput,
): Promise<AuditEvent> {
  const appended = await deps.audit.append(event);
  if (event.mirror) await enqueueAuditMirror(deps.queues, { ...appended, mirror: event.mirror });
  return appended;
}

/** Queues the mirror of an appended event; the job id makes a repeated enqueue harmless. */
export async function enqueueAuditMirror(
  queues: QueueBackend,
  event: AuditEvent & { mirror: AuditMirrorTarget },
): Promise<void> {
  await queues.enqueue({
    name: JOBS.auditMirror,
    data: { channel: event.mirror.channel, threadTs: event.mirror.threadTs ?? null, upToSeq: event.seq },
  });
}

/** How often a job waiting for another one's post looks again, at most. */
const BUSY_WAIT_MAX_MS = 2000;

/**
 * Mirrors a thread's audit events in seq order, each exactly once as far as a crash allows.
 * Each post takes the oldest unposted event under a lease of `leaseSeconds` (no lock or
 * connection is held while the post is in flight), posts it and marks it with what `post`
 * returns. Concurrent jobs of one thread wait for the holder of the oldest event, so they
 * interleave only between posts, and a failed post gives back only the lease: the retry
 * starts at the oldest unposted. A holder that died is waited out (its lease lapses);
 * should it have died after its post was taken, `post` must find that post by its key
 * instead of posting it again.
 */
export async function drainOutbox(
  db: pg.Pool,
  job: AuditMirrorJob,
  options: { leaseSeconds: number; holder?: string },
  post: (event: AuditEvent, key: string) => Promise<string>,
): Promise<void> {
  const holder = options.holder ?? randomUUID();
  let waitMs = 50;
  for (;;) {
    const next = await takeToMirror(db, job, holder, options.leaseSeconds);
    if (next === 'none') return;
    if (next === 'busy') {
      // Another job is posting the oldest event; its post is seconds at most.
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      waitMs = Math.min(waitMs * 2, BUSY_WAIT_MAX_MS);
      continue;
    }
    waitMs = 50;
    try {
      await markMirrored(db, next.seq, await post(next, `audit-event:${next.seq}`));
    } catch (err) {
      await releaseMirror(db, next.seq, holder).catch(() => undefined);
      throw err;
    }
  }
}

/** The run's root message thread, where its audit trail is mirrored. */
export function mirrorOf(run: ProcedureRun): AuditEventInput['mirror'] {
  return run.channelId ? { channel: run.channelId, threadTs: run.rootTs ?? undefined } : undefined;
}

/** Appends an audit event of a procedure run on its own and queues its mirror to the run's thread. */
export async function appendAudited(
  deps: { audit: AuditLog; queues: QueueBackend },
  run: ProcedureRun,
  event: Omit<AuditEventInput, 'mirror'>,
): Promise<void> {
  await appendMirrored(deps, { ...event, mirror: mirrorOf(run) });
}
