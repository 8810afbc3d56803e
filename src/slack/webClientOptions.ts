import type { WebClientOptions } from '@slack/web-api';
import type { Logger } from '../logger.js';
import { slackLogger } from './slackLogger.js';
import { webApiFetch } from './webApiFetch.js';

/**
 * One Web API request's limit: a post that hangs must end well inside the lease a report
 * job holds on what it posts (two retries included), or another job could post it too.
 */
export const SLACK_REQUEST_TIMEOUT_MS = 10_000;

/**
 * How the bot's Web API clients talk to Slack: the workers' and Bolt's (Bolt puts its own
 * logger, ours too, in place of this one).
 */
export function webClientOptions(apiUrl: string | undefined, logger: Logger): WebClientOptions {
  return {
    slackApiUrl: apiUrl,
    timeout: SLACK_REQUEST_TIMEOUT_MS,
    // A 429 is the caller's to handle: a job is rescheduled by Retry-After instead of the
    // client sleeping inside it (and holding a worker slot).
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2 },
    fetch: webApiFetch,
    logger: slackLogger(logger, 'slack-web-api'),
  };
}
