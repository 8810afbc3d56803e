import { createHmac } from 'node:crypto';

export const SIGNING_SECRET = 'test-signing-secret-8f2a';
export const BOT_TOKEN = 'xoxb-test-0000-secret-token';

export interface SlashCommandFields {
  text: string;
  user_id?: string;
  channel_id?: string;
  trigger_id?: string;
}

/** Sends a slash command to the bot exactly as Slack does: form-encoded and signed. */
export async function sendSlashCommand(
  port: number,
  fields: SlashCommandFields,
  options: { secret?: string; timestamp?: number; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; json?: { response_type?: string; text?: string } }> {
  const body = new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0001',
    team_domain: 'acme',
    channel_id: fields.channel_id ?? 'C0INCIDENT',
    channel_name: 'incidents',
    user_id: fields.user_id ?? 'U0ONCALL',
    user_name: 'oncall',
    command: '/runbook',
    text: fields.text,
    api_app_id: 'A0RUNBOOK',
    response_url: 'https://hooks.slack.com/commands/T0001/1/abc',
    trigger_id: fields.trigger_id ?? `trigger-${Math.random().toString(36).slice(2)}`,
  }).toString();
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = `v0=${createHmac('sha256', options.secret ?? SIGNING_SECRET)
    .update(`v0:${timestamp}:${body}`)
    .digest('hex')}`;
  const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signature,
      ...options.headers,
    },
    body,
  });
  const text = await response.text();
  let json: { response_type?: string; text?: string } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, body: text, json };
}
