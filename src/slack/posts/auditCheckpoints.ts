import type { WebClient } from '@slack/web-api';
import type pg from 'pg';
import type { AuditLog } from '../../audit/auditLog.js';
import { formatCheckpoint, makeCheckpoint } from '../../audit/checkpoint.js';
import type { Logger } from '../../logger.js';
import {
  insertCheckpoint,
  lastCheckpoint,
  markCheckpointPosted,
  releaseCheckpointLock,
  tryCheckpointLock,
} from '../../store/auditCheckpoints.js';
import { prunePostAttempts } from '../../store/postAttempts.js';
import { runPeriodically } from '../../util/periodic.js';
import { postOnce } from './postOnce.js';

/**
 * Checkpoints of the audit chain's head, posted to AUDIT_CHANNEL: a copy of the count and the
 * newest hash outside the database, which `runbook-bot audit verify --checkpoint` compares
 * the log with. Someone who can write the database can delete the newest rows or re-hash a
 * changed chain; they cannot take back a Slack message, nor (without AUDIT_HMAC_KEY) sign
 * a checkpoint that matches their version.
 *
 * A worker looks every `everyMs` and posts one when the log has grown by `afterEvents`
 * since the last checkpoint, or has grown at all and the last one is `maxAgeMs` old (or
 * there is none yet). What happened since the last checkpoint is what it cannot vouch for:
 * at most `maxAgeMs` plus one look, or `afterEvents` events plus those of one look.
 */
export interface CheckpointPolicy {
  everyMs: number;
  maxAgeMs: number;
  afterEvents: number;
}

export const AUDIT_CHECKPOINTS: CheckpointPolicy = {
  everyMs: 5 * 60_000,
  maxAgeMs: 60 * 60_000,
  afterEvents: 100,
};

export interface CheckpointDeps {
  db: pg.Pool;
  audit: AuditLog;
  slack: WebClient;
  logger: Logger;
  channel: string;
  hmacKey?: string;
}

/**
 * Posts a checkpoint if one is due (or finishes posting the last one, whose post failed);
 * answers the line posted, if any. Everything happens on one connection that holds the lock,
 * so a worker holding it never waits for a second one.
 */
export async function checkpointIfDue(
  deps: CheckpointDeps,
  policy: CheckpointPolicy = AUDIT_CHECKPOINTS,
  now: Date = new Date(),
): Promise<string | undefined> {
  const client = await deps.db.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    if (!(await tryCheckpointLock(client))) return undefined; // another worker is at it
    try {
      return await postDue(deps, client, policy, now);
    } finally {
      await releaseCheckpointLock(client).catch((err: Error) => {
        broken = err;
      });
    }
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

async function postDue(
  deps: CheckpointDeps,
  client: pg.PoolClient,
  policy: CheckpointPolicy,
  now: Date,
): Promise<string | undefined> {
  let last = await lastCheckpoint(client);
  if (!last || last.postedTs) {
    const head = await deps.audit.head(client);
    const grown = head.count - (last?.eventCount ?? 0);
    const due =
      grown > 0 &&
      (!last || grown >= policy.afterEvents || now.getTime() - last.createdAt.getTime() >= policy.maxAgeMs);
    if (!due) return undefined;
    const line = formatCheckpoint(makeCheckpoint({ ...head, at: now.toISOString() }, deps.hmacKey));
    last = await insertCheckpoint(client, {
      eventCount: head.count,
      headHash: head.head,
      line,
      channel: deps.channel,
    });
  }
  const ts = await postOnce(
    { slack: deps.slack, db: client, logger: deps.logger },
    {
      key: `audit-checkpoint:${last.id}`,
      channel: deps.channel,
      text: `:lock: Audit log checkpoint. To check the log against it: \`runbook-bot audit verify --checkpoint '<the line>'\`\n\`${last.line}\``,
    },
  );
  await markCheckpointPosted(client, last.id, ts);
  return last.line;
}

/**
 * Looks every `everyMs` until stopped (for a checkpoint only when there is a channel to post
 * to); a failed look is logged once per outage and the next one tries again. Also prunes old
 * post attempts (see postOnce): the same slow housekeeping pace, nothing else reads them.
 */
export function startAuditCheckpointer(
  deps: Omit<CheckpointDeps, 'channel'> & { channel?: string },
  policy: CheckpointPolicy = AUDIT_CHECKPOINTS,
): { stop(): Promise<void> } {
  let failing = false;
  const { channel } = deps;
  const once = async () => {
    try {
      const line = channel ? await checkpointIfDue({ ...deps, channel }, policy) : undefined;
      if (line) deps.logger.info({ checkpoint: line }, 'audit checkpoint posted');
      await prunePostAttempts(deps.db);
      failing = false;
    } catch (err) {
      if (!failing) deps.logger.warn({ err }, 'posting an audit checkpoint failed; trying again later');
      failing = true;
    }
  };
  return runPeriodically(policy.everyMs, once);
}
