import type { WebClientOptions } from '@slack/web-api';
import type { Logger } from '../logger.js';
import { slackLogger } from './slackLogger.js';
import { webApiFetch } from './webApiFetch.js';

/** How every Web API client of the bot's (Bolt's and the workers') talks to Slack. */
export function webClientOptions(apiUrl: string | undefined, logger: Logger): WebClientOptions {
  return {
    slackApiUrl: apiUrl,
    // A 429 is the caller's to handle: a job is rescheduled by Retry-After instead of the
    // client sleeping inside it (and holding a worker slot).
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2 },
    fetch: webApiFetch,
    logger: slackLogger(logger, 'slack-web-api'),
  };
}
