import type { WebClient } from '@slack/web-api';
import type pg from 'pg';
import type { AuditLog } from '../../audit/auditLog.js';
import { formatCheckpoint, makeCheckpoint } from '../../audit/checkpoint.js';
import type { Logger } from '../../logger.js';
import { prunePostAttempts } from '../../store/postAttempts.js';
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

/** Advisory lock (session) so that of several workers, one posts each checkpoint. */
const CHECKPOINT_LOCK: [number, number] = [7_301_502, 1];

interface CheckpointRow {
  id: string;
  event_count: string;
  line: string;
  created_at: Date;
  posted_ts: string | null;
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
    const { rows: locked } = await client.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_lock($1, $2) AS ok',
      CHECKPOINT_LOCK,
    );
    if (!locked[0]?.ok) return undefined; // another worker is at it
    try {
      return await postDue(deps, client, policy, now);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', CHECKPOINT_LOCK).catch((err: Error) => {
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
  const { rows } = await client.query<CheckpointRow>(
    'SELECT id, event_count, line, created_at, posted_ts FROM audit_checkpoints ORDER BY id DESC LIMIT 1',
  );
  let last = rows[0];
  if (!last || last.posted_ts) {
    const head = await deps.audit.head(client);
    const grown = head.count - Number(last?.event_count ?? 0);
    const due =
      grown > 0 &&
      (!last || grown >= policy.afterEvents || now.getTime() - last.created_at.getTime() >= policy.maxAgeMs);
    if (!due) return undefined;
    const line = formatCheckpoint(makeCheckpoint({ ...head, at: now.toISOString() }, deps.hmacKey));
    const inserted = await client.query<CheckpointRow>(
      `INSERT INTO audit_checkpoints (event_count, head_hash, line, channel) VALUES ($1, $2, $3, $4)
       RETURNING id, event_count, line, created_at, posted_ts`,
      [head.count, head.head, line, deps.channel],
    );
    last = inserted.rows[0]!;
  }
  const ts = await postOnce(
    { slack: deps.slack, db: client, logger: deps.logger },
    {
      key: `audit-checkpoint:${last.id}`,
      channel: deps.channel,
      text: `:lock: Audit log checkpoint. To check the log against it: \`runbook-bot audit verify --checkpoint '<the line>'\`\n\`${last.line}\``,
    },
  );
  await client.query('UPDATE audit_checkpoints SET posted_ts = $2, posted_at = now() WHERE id = $1', [
    last.id,
    ts,
  ]);
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
  let current: Promise<void> | undefined;
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
  const timer = setInterval(() => {
    current ??= once().finally(() => {
      current = undefined;
    });
  }, policy.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await current;
    },
  };
}
