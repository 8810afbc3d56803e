import { Writable } from 'node:stream';
import type { KnownBlock } from '@slack/types';
import nock from 'nock';
import pg from 'pg';
import { createLogger } from '../../src/logger.js';
import type { TestDatabase } from './databases.js';
import { BOT_TOKEN, interceptHistory, postKeyOf, SIGNING_SECRET } from './slack.js';

/** What the bot's integration tests share: Slack interception, polling, logs, environment. */

export interface Posted {
  channel: string;
  text: string;
  blocks: KnownBlock[];
  /** Set on thread replies. */
  threadTs?: string;
  /** The ts Slack answered with. */
  ts: string;
  /** The post key in the message's metadata (see postOnce). */
  postKey?: string;
}

/**
 * Intercepts chat.postMessage on the real Web API host; `replies` are served in order. The
 * channels' history (what a retry looks up before posting again) answers with what was posted.
 */
export function interceptPostMessage(
  posted: Posted[],
  replies: Array<[number, object, Record<string, string>?]> = [],
) {
  const scope = nock('https://slack.com').persist();
  let call = 0;
  scope.post('/api/chat.postMessage').reply((_uri, body) => {
    const params = new URLSearchParams(body as string);
    const [status, payload, headers] = replies[call] ?? [
      200,
      { ok: true, ts: `1700000000.${String(call).padStart(6, '0')}` },
    ];
    call += 1;
    if (status === 200) {
      posted.push({
        channel: params.get('channel') ?? '',
        text: params.get('text') ?? '',
        blocks: JSON.parse(params.get('blocks') ?? '[]'),
        threadTs: params.get('thread_ts') ?? undefined,
        ts: (payload as { ts?: string }).ts ?? '',
        postKey: postKeyOf(params),
      });
    }
    return [status, payload, headers ?? {}];
  });
  const history = interceptHistory(() => posted.map((p) => ({ ...p, threadTs: p.threadTs })));
  return { calls: () => call, lookups: history.lookups };
}

/** Intercepts chat.getPermalink on the real Web API host: a link per channel and ts. */
export function interceptPermalinks(): void {
  nock('https://slack.com')
    .persist()
    .post('/api/chat.getPermalink')
    .reply(200, (_uri, body) => {
      const params = new URLSearchParams(body as string);
      const channel = params.get('channel') ?? '';
      return {
        ok: true,
        channel,
        permalink: `https://acme.slack.com/archives/${channel}/p${params.get('message_ts')}`,
      };
    });
}

/** Intercepts chat.update on the real Web API host: each edit's ts, text and blocks (as sent, JSON). */
export function interceptChatUpdate(): Array<{ ts: string; text: string; blocks: string }> {
  const updates: Array<{ ts: string; text: string; blocks: string }> = [];
  nock('https://slack.com')
    .persist()
    .post('/api/chat.update')
    .reply(200, (_uri, body) => {
      const params = new URLSearchParams(body as string);
      updates.push({
        ts: params.get('ts') ?? '',
        text: params.get('text') ?? '',
        blocks: params.get('blocks') ?? '',
      });
      return { ok: true, ts: params.get('ts') };
    });
  return updates;
}

export async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

/** Waits until the service at `port` answers /readyz with 200 (its state database and queue reachable). */
export async function untilReady(port: number, timeoutMs = 20_000): Promise<void> {
  await eventually(async () => {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    return ready.status === 200 ? true : undefined;
  }, timeoutMs);
}

export function captureLogs() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

export async function countRuns(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM runs');
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

export function serviceEnv(state: TestDatabase, target: TestDatabase, redisUrl?: string): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: state.url,
    TARGET_DATABASE_URL: target.url,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    PORT: '0',
    HEALTH_BUDGET_MS: '10000',
  };
}
