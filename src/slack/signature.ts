import { createHmac } from 'node:crypto';

/**
 * Slack's request signature: `v0=` + HMAC-SHA256(signing secret, `v0:<timestamp>:<body>`).
 * Bolt verifies inbound requests itself; this signs requests the way Slack does, for the
 * tests, the benchmark and anything that stands in for Slack.
 */
export function slackSignature(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** Headers of a signed form-encoded request, with the current time unless one is given. */
export function signedHeaders(
  signingSecret: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
) {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': slackSignature(signingSecret, timestamp, body),
  };
}
