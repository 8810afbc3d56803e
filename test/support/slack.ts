import nock from 'nock';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { signedHeaders } from '../../src/slack/signature.js';

export const SIGNING_SECRET = 'test-signing-secret-8f2a';
export const BOT_TOKEN = 'xoxb-test-0000-secret-token';

export interface SlashCommandFields {
  text: string;
  user_id?: string;
  channel_id?: string;
  trigger_id?: string;
  /** Default `/runbook`. */
  command?: string;
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
    command: fields.command ?? '/runbook',
    text: fields.text,
    api_app_id: 'A0RUNBOOK',
    response_url: 'https://hooks.slack.com/commands/T0001/1/abc',
    trigger_id: fields.trigger_id ?? `trigger-${Math.random().toString(36).slice(2)}`,
  }).toString();
  const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: {
      ...signedHeaders(options.secret ?? SIGNING_SECRET, body, options.timestamp),
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

/** Sends a button click as Slack does: form field `payload` holding the block_actions JSON, signed. */
export async function sendBlockAction(
  port: number,
  action: { actionId: string; value: string; userId?: string; channelId?: string; messageTs?: string },
): Promise<{ status: number }> {
  const payload = {
    type: 'block_actions',
    team: { id: 'T0001', domain: 'acme' },
    user: { id: action.userId ?? 'U0ONCALL', username: 'oncall', team_id: 'T0001' },
    api_app_id: 'A0RUNBOOK',
    token: 'deprecated-verification-token',
    container: {
      type: 'message',
      message_ts: action.messageTs ?? '1700000000.000100',
      channel_id: action.channelId ?? 'C0INCIDENT',
      is_ephemeral: false,
    },
    trigger_id: `trigger-${Math.random().toString(36).slice(2)}`,
    channel: { id: action.channelId ?? 'C0INCIDENT', name: 'incidents' },
    message: { type: 'message', ts: action.messageTs ?? '1700000000.000100', text: 'report' },
    response_url: 'https://hooks.slack.com/actions/T0001/1/xyz',
    actions: [
      {
        type: 'button',
        action_id: action.actionId,
        block_id: 'b1',
        text: { type: 'plain_text', text: 'button' },
        value: action.value,
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: signedHeaders(SIGNING_SECRET, body),
    body,
  });
  await response.text();
  return { status: response.status };
}

/** Submits a modal as Slack does: a signed `payload` holding the view_submission JSON. */
export async function sendViewSubmission(
  port: number,
  submission: {
    callbackId: string;
    privateMetadata: string;
    /** Typed values by block id (a plain_text_input with action_id `value`). */
    values: Record<string, string>;
    /** Options chosen in menus, by block id (a static_select with action_id `pick`). */
    selected?: Record<string, string>;
    userId?: string;
    blocks?: Array<{ type: string; block_id?: string }>;
  },
): Promise<{ status: number; json?: { response_action?: string; errors?: Record<string, string> } }> {
  const payload = {
    type: 'view_submission',
    team: { id: 'T0001', domain: 'acme' },
    user: { id: submission.userId ?? 'U0ONCALL', username: 'oncall', team_id: 'T0001' },
    api_app_id: 'A0RUNBOOK',
    token: 'deprecated-verification-token',
    trigger_id: `trigger-${Math.random().toString(36).slice(2)}`,
    view: {
      id: `V${Math.random().toString(36).slice(2, 10).toUpperCase()}`,
      type: 'modal',
      callback_id: submission.callbackId,
      private_metadata: submission.privateMetadata,
      blocks:
        submission.blocks ??
        Object.keys({ ...submission.selected, ...submission.values }).map((name) => ({
          type: 'input',
          block_id: name,
        })),
      state: {
        values: Object.fromEntries([
          ...Object.entries(submission.values).map(([name, value]) => [
            name,
            { value: { type: 'plain_text_input', value } },
          ]),
          ...Object.entries(submission.selected ?? {}).map(([name, value]) => [
            name,
            {
              pick: {
                type: 'static_select',
                selected_option: { text: { type: 'plain_text', text: value }, value },
              },
            },
          ]),
        ]),
      },
    },
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: signedHeaders(SIGNING_SECRET, body),
    body,
  });
  const text = await response.text();
  let json: { response_action?: string; errors?: Record<string, string> } | undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, json };
}

/**
 * For a test file whose Slack Web API is nock: nothing leaves the machine (loopback stays
 * open for the bot, Postgres and Redis), and each test starts with no interceptors left.
 */
export function interceptSlackOnly(): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });
}

/** What the bot posts to response URLs (Slack's hooks host), every body in order. */
export function interceptResponseUrls<T = { text?: string }>(options: { persist?: boolean } = {}): T[] {
  const bodies: T[] = [];
  const scope = nock('https://hooks.slack.com');
  (options.persist ? scope.persist() : scope).post(/.*/).reply(200, (_uri, body) => {
    bodies.push(body as T);
    return 'ok';
  });
  return bodies;
}

/** A message Slack holds, as conversations.history and conversations.replies answer it. */
export interface HeldMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  /** The post key the bot put in the message's metadata (see postOnce). */
  postKey?: string;
}

/** The post key of a chat.postMessage form body's metadata, if any. */
export function postKeyOf(params: URLSearchParams): string | undefined {
  const metadata = params.get('metadata');
  if (!metadata) return undefined;
  const parsed = JSON.parse(metadata) as { event_payload?: { post_key?: string } };
  return parsed.event_payload?.post_key;
}

/**
 * conversations.history and conversations.replies answered from `held()`: top-level
 * messages of the channel, or the replies of the thread, with the bot's metadata. `oldest`
 * is not applied (test timestamps are not real times). Answers how many lookups were made.
 */
export function interceptHistory(held: () => HeldMessage[]) {
  let lookups = 0;
  const answer = (params: URLSearchParams, thread: boolean) => {
    lookups += 1;
    const channel = params.get('channel');
    const threadTs = params.get('ts');
    const messages = held()
      .filter(
        (m) => m.channel === channel && (thread ? m.threadTs === threadTs || m.ts === threadTs : !m.threadTs),
      )
      .map((m) => ({
        type: 'message',
        ts: m.ts,
        ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
        ...(m.postKey
          ? { metadata: { event_type: 'runbook_bot_post', event_payload: { post_key: m.postKey } } }
          : {}),
      }));
    return { ok: true, messages, has_more: false };
  };
  const scope = nock('https://slack.com').persist();
  scope
    .post('/api/conversations.history')
    .reply(200, (_uri, body) => answer(new URLSearchParams(body as string), false));
  scope
    .post('/api/conversations.replies')
    .reply(200, (_uri, body) => answer(new URLSearchParams(body as string), true));
  return { lookups: () => lookups };
}
