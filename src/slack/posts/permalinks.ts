import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../logger.js';

/**
 * Slack's refusals (`ok: false`) that say nothing about the link itself: the server had
 * trouble and the same call may succeed later, so the job retries as for a 5xx.
 */
const TRANSIENT_REFUSALS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/**
 * Permalinks for a message's lines to point at their reports. A link is cosmetic: a
 * summary without it still says its reports are in the thread. So a refusal (unknown_method
 * from a Slack stand-in, missing_scope, message_not_found…) must not fail the job that posts
 * the reports: that job would retry, post nothing more, and never mark its run posted. The
 * first refusal is logged once and the reader stops asking (it would refuse every message
 * alike); a rate limit, an HTTP 5xx or a network failure still throws, and the job retries.
 */
export function permalinkReader(slack: WebClient, logger: Logger | undefined) {
  let refused: string | undefined;
  return async (channel: string, ts: string): Promise<string | undefined> => {
    if (refused) return undefined;
    try {
      const { permalink } = await slack.chat.getPermalink({ channel, message_ts: ts });
      return permalink;
    } catch (err) {
      const { code, data } = err as { code?: string; data?: { error?: string } };
      const error = data?.error ?? 'unknown';
      if (code !== 'slack_webapi_platform_error' || TRANSIENT_REFUSALS.has(error)) throw err;
      refused = error;
      logger?.warn(
        { channel, error },
        'chat.getPermalink refused; the summary is left without links to its reports',
      );
      return undefined;
    }
  };
}
