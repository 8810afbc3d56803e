import { randomUUID } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type pg from 'pg';
import { z } from 'zod';
import type { AuditLog } from '../audit/auditLog.js';
import type { AuditEvent, AuditEventInput } from '../audit/events.js';
import type { Logger } from '../logger.js';
import { postOnce } from '../slack/posts/postOnce.js';
import { auditLine } from '../slack/views/auditLine.js';
import { SLACK_REQUEST_TIMEOUT_MS } from '../slack/webClientOptions.js';
import { markMirrored, releaseMirror, takeToMirror } from '../store/auditOutbox.js';
import { QUEUES, RETENTION } from './payloads.js';
import type { QueueBackend } from './queueBackend.js';

export const JOB_AUDIT_MIRROR = 'audit-mirror';

/** Post every unposted audit event of one thread up to `upToSeq`. */
export const auditMirrorJobSchema = z.object({
  channel: z.string().min(1),
  threadTs: z.string().min(1).nullable(),
  upToSeq: z.number().int().positive(),
});
export type AuditMirrorJob = z.infer<typeof auditMirrorJobSchema>;

export interface AuditMirrorDeps {
  db: pg.Pool;
  slack: WebClient;
  logger?: Logger;
}

/** Longer than one post with its retries takes (each try is cut off; see webClientOptions). */
const MIRROR_LEASE_SECONDS = Math.ceil((SLACK_REQUEST_TIMEOUT_MS * 4) / 1000);
/** How often a job waiting for another one's post looks again, at most. */
const BUSY_WAIT_MAX_MS = 2000;

/**
 * Mirrors a thread's audit events into Slack in seq order, each exactly once as far as a
 * crash allows. Each post takes the oldest unposted event under a lease (no lock or
 * connection is held while Slack answers), posts it and marks it. Concurrent jobs of one
 * thread wait for the holder of the oldest event, so they interleave only between posts, and
 * a Slack failure gives back only the lease: the retry starts at the oldest unposted. A
 * holder that died is waited out (its lease lapses); should it have died after Slack took
 * its post, postOnce finds that post by its key in the thread instead of posting it again.
 */
export async function postAuditMirror(
  deps: AuditMirrorDeps,
  job: AuditMirrorJob,
  holder: string = randomUUID(),
): Promise<void> {
  let waitMs = 50;
  for (;;) {
    const next = await takeToMirror(deps.db, job, holder, MIRROR_LEASE_SECONDS);
    if (next === 'none') return;
    if (next === 'busy') {
      // Another job is posting the oldest event; its post is seconds at most.
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      waitMs = Math.min(waitMs * 2, BUSY_WAIT_MAX_MS);
      continue;
    }
    waitMs = 50;
    try {
      const ts = await postOnce(deps, {
        key: `audit-event:${next.seq}`,
        channel: job.channel,
        ...(job.threadTs ? { threadTs: job.threadTs } : {}),
        text: auditLine(next),
      });
      await markMirrored(deps.db, next.seq, ts);
    } catch (err) {
      await releaseMirror(deps.db, next.seq, holder).catch(() => undefined);
      throw err;
    }
  }
}

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
  event: AuditEvent & { mirror: { channel: string; threadTs?: string } },
): Promise<void> {
  const job: AuditMirrorJob = {
    channel: event.mirror.channel,
    threadTs: event.mirror.threadTs ?? null,
    upToSeq: event.seq,
  };
  await queues.queue(QUEUES.notifications).add(JOB_AUDIT_MIRROR, job, {
    jobId: `audit-mirror-${event.seq}`,
    attempts: 10,
    backoff: { type: 'exponential', delay: 2000 },
    ...RETENTION,
  });
}
