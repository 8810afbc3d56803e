import { type ChildProcess, spawn } from 'node:child_process';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { type RunningConsole, startConsole } from '../../src/console/consoleServer.js';
import { type RunningService, startService } from '../../src/service.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import { slackSignature } from '../../src/slack/signature.js';
import {
  captureLogs,
  countRuns,
  eventually,
  interceptPostMessage,
  type Posted,
  serviceEnv,
} from '../support/botHarness.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import {
  BOT_TOKEN,
  interceptResponseUrls,
  interceptSlackOnly,
  SIGNING_SECRET,
  sendBlockAction,
  sendSlashCommand,
} from '../support/slack.js';

const [server] = inject('postgresServers');

interceptSlackOnly();

const FORM = 'application/x-www-form-urlencoded';

/** A POST to the bot's Slack endpoint, signed as Slack signs unless told otherwise. */
async function post(
  port: number,
  body: string,
  options: { contentType?: string; timestamp?: number; secret?: string; unsigned?: boolean } = {},
): Promise<{ status: number; text: string }> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = { 'content-type': options.contentType ?? FORM };
  if (!options.unsigned) {
    headers['x-slack-request-timestamp'] = String(timestamp);
    headers['x-slack-signature'] = slackSignature(options.secret ?? SIGNING_SECRET, timestamp, body);
  }
  // Far past Slack's three seconds: a request the bot never answers fails the test, not hangs it.
  const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, text: await response.text() };
}

const payload = (value: unknown) => `payload=${encodeURIComponent(JSON.stringify(value))}`;

const clickWithout = (field: 'user' | 'actions') => {
  const click: Record<string, unknown> = {
    type: 'block_actions',
    user: { id: 'U0ONCALL' },
    actions: [{ action_id: ACTIONS.healthRerun, value: '{"target":"default"}' }],
    channel: { id: 'C0INCIDENT' },
    response_url: 'https://hooks.slack.com/actions/T0001/1/xyz',
  };
  delete click[field];
  return payload(click);
};

/** Signed bodies that are not a request the bot can handle, and what the answer must name. */
const HOSTILE: Array<[string, string, { contentType?: string }, RegExp]> = [
  ['payload=null', 'payload=null', {}, /null, not an object/],
  ['payload={}', payload({}), {}, /no fields/],
  ['payload=[1,2,3]', payload([1, 2, 3]), {}, /an array, not an object/],
  ['block_actions without user', clickWithout('user'), {}, /`user` is missing/],
  ['block_actions without actions', clickWithout('actions'), {}, /`actions` is missing/],
  [
    'block_actions with no action',
    payload({ type: 'block_actions', user: { id: 'U1' }, actions: [] }),
    {},
    /actions/,
  ],
  [
    'view_submission without view',
    payload({ type: 'view_submission', user: { id: 'U1' } }),
    {},
    /`view` is missing/,
  ],
  [
    'a view_submission of a modal the bot did not open',
    payload({
      type: 'view_submission',
      user: { id: 'U1' },
      view: { id: 'V1', callback_id: 'other', private_metadata: '', blocks: [], state: { values: {} } },
    }),
    {},
    /opened no modal "other"/,
  ],
  [
    'an interaction the bot has no listener for',
    payload({ type: 'shortcut', user: { id: 'U1' } }),
    {},
    /does not handle "shortcut"/,
  ],
  ['an empty form', '', {}, /no fields|empty/],
  ['an empty JSON body', '', { contentType: 'application/json' }, /empty/],
  [
    'a body neither form-encoded nor JSON',
    'hello <!channel>',
    { contentType: 'text/plain' },
    /neither form-encoded/,
  ],
  ['a form with neither command nor payload', 'foo=bar', {}, /neither a slash command/],
  ['a command form without command', 'user_id=U0ONCALL&text=health', {}, /neither a slash command/],
  ['a command form without user_id', 'command=%2Frunbook&text=health', {}, /`user_id` is missing/],
  [
    'a command the app did not register',
    'command=%2Fdeploy&user_id=U0ONCALL&text=x',
    {},
    /no command \/deploy/,
  ],
  ['a payload field sent twice', 'payload=%7B%7D&payload=%7B%7D', {}, /more than one `payload`/],
];

/**
 * A real `runbook-bot-server bot` process: a body Bolt dereferences blindly (payload=null)
 * ended the process before, so only a separate process shows it survives.
 */
describe('hostile bodies sent to a bot process', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let bot: ChildProcess;
  let port: number;
  let output = '';

  beforeAll(async () => {
    [state, target] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url),
    ]);
    bot = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'bot'], {
      // Nothing it does here reaches the Web API; an address that refuses makes sure.
      env: {
        ...process.env,
        ...serviceEnv(state, target),
        SLACK_API_URL: 'http://127.0.0.1:9/api/',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    bot.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    port = await new Promise<number>((resolve, reject) => {
      bot.once('exit', (code) => reject(new Error(`the bot exited (${code}) before it started:\n${output}`)));
      bot.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const started = /"port":(\d+)[^\n]*"msg":"runbook-bot started"/.exec(output);
        if (started) resolve(Number(started[1]));
      });
    });
  }, 60_000);

  afterAll(async () => {
    if (bot && bot.exitCode === null && bot.signalCode === null) {
      bot.kill('SIGTERM');
      await new Promise((resolve) => bot.once('exit', resolve));
    }
    await Promise.all([state?.drop(), target?.drop()]);
  });

  it.each(HOSTILE)('answers %s with 400 and the reason', async (_case, body, options, reason) => {
    const answer = await post(port, body, options);
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(reason);
  });

  it('checks the signature first: an unsigned or forged hostile body is a 401', async () => {
    expect((await post(port, 'payload=null', { unsigned: true })).status).toBe(401);
    expect((await post(port, 'payload=null', { secret: 'not-the-secret' })).status).toBe(401);
  });

  it("answers Slack's unsigned certificate check, and nothing sent with it reaches a command", async () => {
    for (const body of [
      'ssl_check=1&token=x',
      // Bolt reads a repeated field as a list (not "1"), so it would take this as a command.
      'ssl_check=1&ssl_check=2&command=%2Frunbook&text=help&user_id=U0ONCALL',
    ]) {
      const answer = await post(port, body, { unsigned: true });
      expect(answer.status).toBe(200);
      expect(answer.text).toBe('');
    }
  });

  it('refuses a timestamp more than five minutes in the future, as it refuses a stale one', async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = new URLSearchParams({ command: '/runbook', user_id: 'U0ONCALL', text: 'help' }).toString();
    const future = await post(port, body, { timestamp: now + 6 * 60 });
    expect(future.status).toBe(401);
    expect(future.text).toMatch(/more than 5 minutes from now/);
    expect((await post(port, body, { timestamp: now - 6 * 60 })).status).toBe(401);
    // A clock a little ahead of Slack's is not a replay.
    expect((await sendSlashCommand(port, { text: 'help' }, { timestamp: now + 60 })).status).toBe(200);
  });

  it('is still running after all of them, and answers the next command', async () => {
    expect(bot.exitCode).toBeNull();
    expect(bot.signalCode).toBeNull();
    const help = await sendSlashCommand(port, { text: 'help' });
    expect(help.status).toBe(200);
    expect(help.json?.text).toContain('/runbook health [target]');
    expect(output).not.toMatch(/Unhandled|TypeError/);
  });
});

describe('bad input to a bot in all mode', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let service: RunningService;

  beforeAll(async () => {
    [state, target] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url),
    ]);
    const env = { ...serviceEnv(state, target), INCIDENT_CHANNEL_MODE: 'current' };
    service = await startService({
      mode: 'all',
      config: loadServiceConfig(env, { mode: 'all' }),
      logger: captureLogs().logger,
    });
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    await Promise.all([state?.drop(), target?.drop()]);
  });

  it.each([
    ['/runbook', `run ${'x'.repeat(4000)}`],
    ['/incident', `declare P1 ${'x'.repeat(4000)}`],
  ])('tells %s text over 4000 characters that it is too long', async (command, text) => {
    const answer = await sendSlashCommand(service.port, { command, text });
    expect(answer.status).toBe(200);
    expect(answer.json?.text).toBe(
      `That \`${command}\` text is ${text.length} characters long; the most it takes is 4000. Shorten it and try again.`,
    );
  });

  it('refuses a Re-run of an unknown target before recording or posting anything', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const answers = interceptResponseUrls();
    const before = await countRuns(state.url);
    const click = await sendBlockAction(service.port, {
      actionId: ACTIONS.healthRerun,
      value: JSON.stringify({ target: 'dropped-last-week' }),
    });
    expect(click.status).toBe(200);
    expect((await eventually(() => answers[0])).text).toBe(
      'Unknown target "dropped-last-week". Known targets: default.',
    );
    expect(await countRuns(state.url)).toBe(before);
    // A run would have been posted by now (the worker is in this process); none was.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(posted).toEqual([]);
  });

  it('never posts a typed mention live: an incident title with <!channel> is escaped in the fallback text', async () => {
    const calls: Array<{ method: string; params: Record<string, string> }> = [];
    nock('https://slack.com')
      .persist()
      .post(/\/api\/.*/)
      .reply((uri, body) => {
        const params = Object.fromEntries(new URLSearchParams(body as string));
        calls.push({ method: uri.replace('/api/', ''), params });
        return [200, { ok: true, ts: `1700000200.00000${calls.length}`, channel: params.channel }];
      });
    const title = 'Checkout down <!channel> <!here> <@U0BOB> <#C0GENERAL> <!subteam^S0DBA> & more';
    const declared = await sendSlashCommand(service.port, {
      command: '/incident',
      text: `declare P1 ${title}`,
      channel_id: 'C0ONCALL',
    });
    expect(declared.json?.text).toMatch(/^Declared INC-\d+ \(P1\) in this channel\.$/);
    const root = await eventually(() =>
      calls.find((call) => call.method === 'chat.postMessage' && call.params.channel === 'C0ONCALL'),
    );
    expect(root.params.text).toContain(
      'Checkout down &lt;!channel&gt; &lt;!here&gt; &lt;@U0BOB&gt; &lt;#C0GENERAL&gt; &lt;!subteam^S0DBA&gt; &amp; more',
    );
    expect(root.params.text).not.toMatch(/<[!@#]/);
    // The header shows the title as plain text, which Slack never turns into a mention.
    const [header] = JSON.parse(root.params.blocks ?? '[]') as Array<{
      text: { type: string; text: string };
    }>;
    expect(header!.text.type).toBe('plain_text');
  });
});

/**
 * Socket Mode deliveries do not pass the HTTP receiver: the same check stands in front of
 * Bolt there. The local console plays Slack's side of the WebSocket.
 */
describe('hostile envelopes over Socket Mode', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let slack: RunningConsole;
  let service: RunningService;

  beforeAll(async () => {
    [state, target] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url),
    ]);
    slack = await startConsole({
      port: 0,
      botToken: BOT_TOKEN,
      signingSecret: SIGNING_SECRET,
      appToken: 'xapp-1-test',
    });
    const env = { ...serviceEnv(state, target), SLACK_APP_TOKEN: 'xapp-1-test', SLACK_API_URL: slack.apiUrl };
    service = await startService({
      mode: 'bot',
      config: loadServiceConfig(env, { mode: 'bot' }),
      logger: captureLogs().logger,
    });
    await eventually(() => (slack.socket?.connected() ? true : undefined));
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    await slack?.close();
    await Promise.all([state?.drop(), target?.drop()]);
  });

  it.each([
    ['null', 'interactive', null],
    ['an array', 'interactive', [1, 2, 3]],
    ['a click without user', 'interactive', { type: 'block_actions', actions: [{ action_id: 'x' }] }],
    ['a command without user_id', 'slash_commands', { command: '/runbook', text: 'help' }],
  ] as const)('acknowledges %s without handing it to Bolt, and keeps serving', async (_case, type, body) => {
    // Acknowledged (an empty ack), so Slack does not deliver it again.
    expect(await slack.socket!.deliver(type, body)).toEqual({});
    const help = (await slack.socket!.deliver('slash_commands', {
      command: '/runbook',
      text: 'help',
      user_id: 'U0ALICE',
      channel_id: 'C0INCIDENTS',
      trigger_id: 'trigger-1',
      response_url: `${slack.url}/respond/x`,
    })) as { text?: string } | undefined;
    expect(help?.text).toContain('/runbook health [target]');
  });
});
