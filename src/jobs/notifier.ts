import type { WebClient } from '@slack/web-api';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from '../logger.js';
import { blockViolations } from '../slack/blockLimits.js';
import { healthReportBlocks, healthReportText } from '../slack/views/healthReport.js';
import type { RunStore } from '../store/runs.js';
import { healthReportJobSchema } from './payloads.js';

export interface NotifierDeps {
  runs: RunStore;
  slack: WebClient;
  logger: Logger;
}

interface RateLimited {
  code?: string;
  retryAfter?: number;
}

/**
 * The one place that posts to Slack. Reports are already stored, so a Slack outage or a 429
 * only delays them: on 429 the job is moved to the delayed set for Retry-After seconds and
 * the worker is free at once; other failures retry with backoff.
 */
export function notifierProcessor(deps: NotifierDeps) {
  return async (job: Job, token?: string): Promise<void> => {
    const parsed = healthReportJobSchema.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`invalid notification payload: ${parsed.error.message}`);
    const run = await deps.runs.get(parsed.data.runId);
    if (!run) throw new UnrecoverableError(`run ${parsed.data.runId} does not exist`);
    if (run.postedTs) return;
    if (!run.channelId) return; // a run from the CLI: nothing to post
    const blocks = run.report ? healthReportBlocks(run.report, { runId: run.id }) : undefined;
    const text = run.report
      ? healthReportText(run.report)
      : `Health check of ${run.target} could not run: ${run.error ?? 'unknown error'}`;
    const problems = blocks ? blockViolations(blocks) : [];
    if (problems.length > 0) throw new UnrecoverableError(`report blocks invalid: ${problems.join('; ')}`);
    const message = blocks ? { text, blocks } : { text };
    try {
      const result = await deps.slack.chat.postMessage({ channel: run.channelId, ...message });
      await deps.runs.markPosted(run.id, result.ts ?? '');
    } catch (err) {
      const limited = err as RateLimited;
      if (limited.code === 'slack_webapi_rate_limited_error' && token) {
        const delayMs = Math.max(1, limited.retryAfter ?? 1) * 1000;
        deps.logger.info({ runId: run.id, delayMs }, 'slack rate limited the report; rescheduled');
        await job.moveToDelayed(Date.now() + delayMs, token);
        throw new DelayedError();
      }
      throw err;
    }
  };
}
