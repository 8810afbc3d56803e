import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Slack's request signature: `v0=` + HMAC-SHA256(signing secret, `v0:<timestamp>:<body>`).
 * The request guard (requestGuard.ts) verifies inbound requests with it; it also signs
 * requests the way Slack does, for the tests, the benchmark and anything that stands in for Slack.
 */
export function slackSignature(signingSecret: string, timestamp: number | string, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/**
 * Whether `signature` is Slack's for this timestamp (the header's text) and body: one HMAC
 * and a constant-time comparison. Bolt's verifySlackRequest compares through tsscmp, which
 * computes two more HMACs and draws random bytes per request: three times the CPU, on every
 * acknowledgement.
 */
export function signatureMatches(
  signingSecret: string,
  timestamp: string,
  body: string,
  signature: string,
): boolean {
  const expected = Buffer.from(slackSignature(signingSecret, timestamp, body));
  const given = Buffer.from(signature);
  // The length of a signature is no secret (v0= and 64 hex digits).
  return given.length === expected.length && timingSafeEqual(given, expected);
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
