import { randomUUID } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type pg from 'pg';
import type { AuditEvent, AuditEventInput, AuditLog } from '../audit/auditLog.js';
import type { Logger } from '../logger.js';
import { redactText } from '../redact.js';
import { postOnce } from '../slack/posts/postOnce.js';
import { escapeMrkdwn } from '../slack/views/mrkdwn.js';
import { SLACK_REQUEST_TIMEOUT_MS } from '../slack/webClientOptions.js';
import { clip } from '../text.js';
import { type AuditMirrorJob, JOBS } from './catalog.js';
import type { QueueBackend } from './queueBackend.js';

export interface AuditMirrorDeps {
  db: pg.Pool;
  audit: AuditLog;
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
    const next = await deps.audit.takeToMirror(job, holder, MIRROR_LEASE_SECONDS);
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
        text: auditEventText(next),
      });
      await deps.audit.markMirrored(next.seq, ts);
    } catch (err) {
      await deps.audit.releaseMirror(next.seq, holder).catch(() => undefined);
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
  await queues.enqueue({
    name: JOBS.auditMirror,
    data: { channel: event.mirror.channel, threadTs: event.mirror.threadTs ?? null, upToSeq: event.seq },
  });
}

const SQL_SHOWN = 120;
const REASON_SHOWN = 300;

/** One short mrkdwn line per event for the run's thread; the audit log keeps the detail. */
export function auditEventText(event: AuditEvent): string {
  const who = actor(event.actor);
  const request = event.requestId ? `request ${short(event.requestId)}` : 'the request';
  const data = event.data;
  const planPart = typeof data.planHash === 'string' ? `plan ${short(data.planHash)}` : '';
  const plan = details(planPart);
  const step = typeof data.step === 'string' ? ` step ${escapeMrkdwn(data.step)}` : '';
  switch (event.kind) {
    case 'command':
      return `:keyboard: ${who} ran ${code(data.command ?? data.text, '(command not recorded)')}`;
    case 'preview':
      return typeof data.error === 'string'
        ? `:warning: ${who}'s preview of${step} failed: ${text(data.error, REASON_SHOWN)}`
        : `:mag: ${who} previewed${step}: ${code(data.sql)}${plan}`;
    case 'approval_requested': {
      const needed = typeof data.requiredApprovals === 'number' ? `${data.requiredApprovals} needed` : '';
      return `:raised_hand: ${who} requested approval of ${request}${details(planPart, needed)}`;
    }
    case 'approved': {
      const count =
        typeof data.approvals === 'number' && typeof data.required === 'number'
          ? `${data.approvals} of ${data.required}`
          : '';
      return `:white_check_mark: ${who} approved ${request}${details(planPart, count)}`;
    }
    case 'rejected':
      return `:no_entry_sign: ${who} rejected ${request}`;
    case 'expired':
      return `:hourglass: ${request} expired before it was approved`;
    case 'lapsed':
      return `:hourglass: ${request} lapsed: approved, but not started within its execution window; nothing was run`;
    case 'execution_started':
      return `:rocket: execution started: ${code(data.sql)}${plan}`;
    case 'execution_finished': {
      const status = typeof data.status === 'string' ? data.status : 'finished';
      const icon =
        status === 'succeeded' ? ':checkered_flag:' : status === 'outcome_unknown' ? ':question:' : ':x:';
      const summary = typeof data.summary === 'string' ? `: ${text(data.summary, REASON_SHOWN)}` : '';
      return `${icon} execution ${escapeMrkdwn(status)}${summary}`;
    }
    case 'outcome_unknown':
      return `:question: outcome of ${request} unknown: the worker stopped during execution; it was not run again`;
    case 'verification': {
      const parts = [
        typeof data.before === 'string' ? `before: ${text(data.before, REASON_SHOWN)}` : '',
        typeof data.after === 'string' ? `after: ${text(data.after, REASON_SHOWN)}` : '',
      ].filter(Boolean);
      return `:microscope: verification of ${request}${parts.length > 0 ? `: ${parts.join('; ')}` : ''}`;
    }
    case 'manual_step':
      return `:ballot_box_with_check: ${who} marked${step || ' a manual step'} done`;
    case 'incident_declared':
      return `:rotating_light: ${who} declared ${text(String(data.incident ?? 'the incident'), REASON_SHOWN)}`;
    case 'incident_updated':
      return `:memo: ${who} ${text(String(data.change ?? 'updated the incident'), REASON_SHOWN)}`;
    case 'incident_resolved':
      return `:white_check_mark: ${who} resolved the incident${typeof data.summary === 'string' && data.summary ? `: ${text(data.summary, REASON_SHOWN)}` : ''}`;
    case 'incident_timer':
      return `:alarm_clock: ${text(String(data.message ?? 'timer'), REASON_SHOWN)}`;
    case 'refused': {
      const reason = typeof data.reason === 'string' ? `: ${text(data.reason, REASON_SHOWN)}` : '';
      // Repeats of one refusal are audited together, with their count (refusalRepeats.ts).
      const times = typeof data.count === 'number' && data.count > 1 ? ` ${data.count} times` : '';
      const again = typeof data.repeatOf === 'number' ? ' again' : '';
      return `:no_entry: ${who} was refused${again}${times}${event.requestId ? ` on ${request}` : ''}${reason}`;
    }
  }
}

/** ` (a, b)` of the non-empty parts, or nothing. */
function details(...parts: string[]): string {
  const shown = parts.filter(Boolean);
  return shown.length > 0 ? ` (${shown.join(', ')})` : '';
}

/** Slack user ids become mentions; the bot and anything else are shown as text. */
function actor(id: string): string {
  return /^[UW][A-Z0-9]{2,}$/.test(id) ? `<@${id}>` : escapeMrkdwn(id);
}

function short(id: string): string {
  return id.length > 8 ? `${escapeMrkdwn(id.slice(0, 8))}…` : escapeMrkdwn(id);
}

/** Redacted, on one line, cut to `max` characters, escaped for mrkdwn. */
function text(value: string, max: number): string {
  const line = redactText(value).replace(/\s+/g, ' ').trim();
  return escapeMrkdwn(clip(line, max));
}

function code(value: unknown, missing = '(no SQL recorded)'): string {
  if (typeof value !== 'string' || value.trim() === '') return missing;
  // A backtick would end the code span early.
  return `\`${text(value, SQL_SHOWN).replaceAll('`', "'")}\``;
}
