import type { WebClient } from '@slack/web-api';
import type pg from 'pg';
import { drainOutbox } from '../../audit/outbox.js';
import type { AuditMirrorJob } from '../../jobs/catalog.js';
import type { Logger } from '../../logger.js';
import { auditLine } from '../views/auditLine.js';
import { SLACK_REQUEST_TIMEOUT_MS } from '../webClientOptions.js';
import { postOnce } from './postOnce.js';

export interface AuditMirrorDeps {
  db: pg.Pool;
  slack: WebClient;
  logger?: Logger;
}

/** Longer than one post with its retries takes (each try is cut off; see webClientOptions). */
const MIRROR_LEASE_SECONDS = Math.ceil((SLACK_REQUEST_TIMEOUT_MS * 4) / 1000);

/**
 * The audit-mirror job: posts a thread's unposted audit events into Slack, one line each,
 * in order (the outbox's leases, audit/outbox.ts). postOnce finds a post Slack took before
 * its poster died by its key, so a lapsed lease does not post an event twice.
 */
export async function postAuditMirror(
  deps: AuditMirrorDeps,
  job: AuditMirrorJob,
  holder?: string,
): Promise<void> {
  await drainOutbox(
    deps.db,
    job,
    { leaseSeconds: MIRROR_LEASE_SECONDS, ...(holder ? { holder } : {}) },
    (event, key) =>
      postOnce(deps, {
        key,
        channel: job.channel,
        ...(job.threadTs ? { threadTs: job.threadTs } : {}),
        text: auditLine(event),
      }),
  );
}
