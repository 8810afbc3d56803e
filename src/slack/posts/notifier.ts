import type { WebClient } from '@slack/web-api';
import { DelayedError, type Job } from 'bullmq';
import type pg from 'pg';
import type { AuditLog } from '../../audit/auditLog.js';
import { JOBS, type JobPayload } from '../../jobs/catalog.js';
import type { JobProcessors } from '../../jobs/processors.js';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { Logger } from '../../logger.js';
import type { ActionRequestStore } from '../../store/actionRequests.js';
import type { ProcedureRunStore } from '../../store/procedureRuns.js';
import type { Run, RunStore } from '../../store/runs.js';
import { healthFindingDetail } from '../views/healthReport.js';
import { escapeMrkdwn } from '../views/mrkdwn.js';
import { postAuditMirror } from './auditMirror.js';
import { postFleetSummary } from './fleetSummaryPost.js';
import { healthReportPost } from './healthReportPost.js';
import {
  fireIncidentTimer,
  type IncidentPostDeps,
  openIncident,
  postIncidentReport,
  refreshIncidentRoot,
} from './incidentPosts.js';
import { beginPosts, type PostAttempt, recordPostedMany, type SlackPost, sendPost } from './postOnce.js';
import { postProcedureRun } from './procedurePosts.js';
import { postRequestCard } from './requestCard.js';
import { postScheduledDigest } from './scheduledDigestPost.js';
import { postScheduledHealth } from './scheduledHealthPost.js';

export interface NotifierDeps {
  db: pg.Pool;
  runs: RunStore;
  procedureRuns: ProcedureRunStore;
  requests: ActionRequestStore;
  audit: AuditLog;
  slack: WebClient;
  logger: Logger;
  incidentPosts: IncidentPostDeps;
}

interface RateLimited {
  code?: string;
  retryAfter?: number;
}

/**
 * The jobs that post to Slack, all on the notifications queue. What they post is already
 * stored, so a Slack outage or a 429 only delays it (see delayedOnRateLimit).
 */
export function registerSlackPosts(jobs: JobProcessors, deps: NotifierDeps): void {
  jobs
    .register(JOBS.healthReport, ({ runIds }) => postHealthReports(deps, runIds))
    .register(JOBS.fleetSummary, (job) => postFleetSummary(deps, job))
    .register(JOBS.findingDetail, (job) => postFindingDetail(deps, job))
    .register(JOBS.procedurePost, ({ runId }) => postProcedureRun(deps, runId))
    .register(JOBS.scheduledHealthReport, (job) => postScheduledHealth(deps, job))
    .register(JOBS.scheduledHealthDigest, (job) => postScheduledDigest(deps, job))
    .register(JOBS.requestCard, ({ requestId }, job) =>
      postRequestCard(deps, requestId, `card-job-${job.id}`),
    )
    .register(JOBS.auditMirror, (payload, job) => postAuditMirror(deps, payload, `mirror-job-${job.id}`))
    .register(JOBS.incidentOpen, ({ incidentId }) => openIncident(deps.incidentPosts, incidentId))
    .register(JOBS.incidentRoot, ({ incidentId }) => refreshIncidentRoot(deps.incidentPosts, incidentId))
    // A timer's message is one per fire: its retries share the job's id and creation time,
    // a timer scheduled again (same id) or the reminder's next fire does not.
    .register(JOBS.incidentTimer, (payload, job) =>
      fireIncidentTimer(deps.incidentPosts, {
        ...payload,
        postKey: `incident-timer:${job.id}:${job.timestamp}`,
      }),
    )
    .register(JOBS.incidentReport, ({ incidentId }) => postIncidentReport(deps.incidentPosts, incidentId));
}

/**
 * The notifications queue's processor around `process`: on a Slack 429 the job moves to the
 * delayed set for Retry-After seconds and the worker is free at once; other failures retry
 * with backoff.
 */
export function delayedOnRateLimit(
  logger: Logger,
  process: (job: Job) => Promise<unknown>,
): (job: Job, token?: string) => Promise<void> {
  return async (job, token) => {
    try {
      await process(job);
    } catch (err) {
      const limited = err as RateLimited;
      if (limited.code === 'slack_webapi_rate_limited_error' && token) {
        const delayMs = Math.max(1, limited.retryAfter ?? 1) * 1000;
        logger.info({ jobId: job.id, delayMs }, 'slack rate limited a post; rescheduled');
        await job.moveToDelayed(Date.now() + delayMs, token);
        throw new DelayedError();
      }
      throw err;
    }
  };
}

/**
 * How long a job holds the reports it is posting: longer than a post with its retries can
 * take (each try is cut off after SLACK_REQUEST_TIMEOUT_MS; see webClientOptions).
 */
const POST_LEASE_SECONDS = 120;

/**
 * Posts the reports of runs that shared a check, concurrently, and records them in one
 * statement. Only reports this job has taken are posted (runs already posted, or without a
 * channel, are not taken), so when one post fails (a 429 delays the job, anything else
 * retries it) the retry posts only what is left, and a second job for the same runs (the
 * recovery sweep's) never posts one twice.
 */
async function postHealthReports(deps: NotifierDeps, runIds: string[]): Promise<void> {
  const { lease, leased, busy } = await deps.runs.leaseForPosting(runIds, POST_LEASE_SECONDS);
  const outcomes = await postReports(deps, leased);
  const posted = outcomes.flatMap((outcome, i) =>
    outcome.status === 'fulfilled'
      ? [{ id: leased[i]!.id, key: outcome.value.key, ts: outcome.value.ts }]
      : [],
  );
  // The runs' record is the one that counts (it fails the job); the attempts' saves a
  // history lookup should it fail. Both at once, and both settled before the job ends.
  const [recorded] = await Promise.allSettled([
    posted.length > 0 ? deps.runs.markPostedMany(posted) : undefined,
    recordPostedMany(deps.db, posted),
  ]);
  if (recorded.status === 'rejected') throw recorded.reason;
  const unposted = leased.filter((_, i) => outcomes[i]!.status === 'rejected').map((run) => run.id);
  // Given back for the retry; failing that, the lease lapses on its own, so a failure to give
  // back must not hide why the posts failed (a 429 decides when to come back).
  if (unposted.length > 0) await deps.runs.releasePosting(lease, unposted).catch(() => undefined);
  const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
  // A rate limit decides when to come back; otherwise the first failure tells why.
  const rateLimited = failures.find((err) => (err as RateLimited).code === 'slack_webapi_rate_limited_error');
  if (failures.length > 0) throw rateLimited ?? failures[0];
  // Should the job posting those fail, they are this one's to post on its retry.
  if (busy > 0) throw new Error(`${busy} of these reports are being posted by another job`);
}

/**
 * Posts each run's report in its channel, concurrently, under postOnce's attempt rows: the
 * batch's attempts are recorded in one statement before any is sent (a statement and a
 * commit per post had made the report job cost the state database more than everything else
 * in it). Answers each run's outcome, in order: the post's key and the message's ts.
 */
async function postReports(
  deps: NotifierDeps,
  runs: Run[],
): Promise<PromiseSettledResult<{ key: string; ts: string }>[]> {
  const posts = runs.map((run): PromiseSettledResult<SlackPost> => {
    try {
      return { status: 'fulfilled', value: healthReportPost(run, run.channelId!) };
    } catch (reason) {
      return { status: 'rejected', reason };
    }
  });
  const ready = posts.flatMap((post) => (post.status === 'fulfilled' ? [post.value] : []));
  let attempts: Map<string, PostAttempt>;
  try {
    attempts = await beginPosts(
      deps.db,
      ready.map((post) => post.key),
    );
  } catch (reason) {
    // Nothing was sent: no attempt was recorded.
    return posts.map((post) => (post.status === 'rejected' ? post : { status: 'rejected', reason }));
  }
  return Promise.allSettled(
    posts.map(async (post) => {
      if (post.status === 'rejected') throw post.reason;
      const { key } = post.value;
      return {
        key,
        ts: await sendPost({ slack: deps.slack, logger: deps.logger }, attempts.get(key)!, post.value),
      };
    }),
  );
}

/** A finding's full evidence as a thread reply; rows beyond one message go in an attached JSON file. */
async function postFindingDetail(
  deps: NotifierDeps,
  job: JobPayload<typeof JOBS.findingDetail>,
): Promise<void> {
  const run = await deps.runs.get(job.runId);
  const finding = run?.report?.findings.find((candidate) => candidate.id === job.check);
  if (!finding) throw new JobCannotSucceed(`run ${job.runId} has no finding ${job.check}`);
  const { blocks, omittedRows } = healthFindingDetail(finding);
  await deps.slack.chat.postMessage({
    channel: job.channel,
    thread_ts: job.threadTs,
    // The summary quotes the database (query text, application names): never a live mention.
    text: escapeMrkdwn(`${finding.title}: ${finding.summary}`),
    blocks,
  });
  if (omittedRows > 0) {
    await deps.slack.files.uploadV2({
      channel_id: job.channel,
      thread_ts: job.threadTs,
      filename: `${finding.id}-evidence.json`,
      content: JSON.stringify(finding.evidence, null, 2),
      initial_comment: `All ${finding.evidence.length} evidence rows of ${finding.id}`,
    });
  }
}
