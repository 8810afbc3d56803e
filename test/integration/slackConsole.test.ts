import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { promisify } from 'node:util';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { type RunningConsole, startConsole } from '../../src/console/consoleServer.js';
import type { ConsoleMessage } from '../../src/console/protocol.js';
import type { ConsoleDemo } from '../../src/demo/consoleDemo.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import { eventually } from '../support/botHarness.js';
import { consolePost, consoleState, startTestConsoleDemo } from '../support/consoleDemo.js';

const [server] = inject('postgresServers');
const TOKEN = 'xoxb-console-test-token';

/** The Slack error code a WebClient call failed with. */
async function slackError(call: Promise<unknown>): Promise<{ error?: string; messages?: string[] }> {
  try {
    await call;
  } catch (err) {
    const data = (err as { data?: { error?: string; response_metadata?: { messages?: string[] } } }).data;
    return { error: data?.error, messages: data?.response_metadata?.messages };
  }
  throw new Error('the call succeeded');
}

describe('npm run demo', () => {
  it('refuses an option it does not know instead of starting something else', async () => {
    const failure = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      'src/demo/main.ts',
      '--chek',
    ]).catch((err: { code: number; stderr: string }) => err);
    expect(failure).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("Unknown option '--chek'. Options: --check, --socket-mode."),
    });
  });
});

describe('the console answers the Web API as Slack does', () => {
  let slack: RunningConsole;
  let client: WebClient;

  beforeAll(async () => {
    slack = await startConsole({ port: 0, botToken: TOKEN, signingSecret: 'console-secret-1234' });
    client = new WebClient(TOKEN, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
  });
  afterAll(async () => {
    await slack.close();
  });

  it('answers requests it cannot read with the reason, and stays up', async () => {
    // A request line whose URL cannot be parsed used to throw outside any handler.
    const { port } = new URL(slack.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.end('GET //a:b HTTP/1.1\r\nHost: x\r\n\r\n'),
      );
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk;
      });
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    const post = async (path: string, body: string, type = 'application/json') => {
      const response = await fetch(`${slack.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      return { status: response.status, body: await response.json() };
    };
    expect(await post('/console/send', 'null')).toEqual({
      status: 400,
      body: { ok: false, error: 'the request body must be a JSON object' },
    });
    expect(await post('/console/send', '{"text":"/runbook health"}')).toEqual({
      status: 400,
      body: { ok: false, error: 'the request names no user' },
    });
    // A field of the wrong kind is the sender's mistake too, named, not a crash of the console's.
    expect(await post('/console/send', '{"user":"U0ALICE","channel":"C0INCIDENTS","text":5}')).toEqual({
      status: 400,
      body: {
        ok: false,
        error:
          'the request is not one the console takes: text: Invalid input: expected string, received number',
      },
    });
    // The Web API answers as Slack does: HTTP 200 with an error.
    expect(await post('/api/chat.postMessage', '{not json')).toEqual({
      status: 200,
      body: { ok: false, error: 'invalid_json' },
    });
    expect((await client.auth.test()).ok).toBe(true);
  });

  it('authenticates the bot token and nothing else', async () => {
    const me = await client.auth.test();
    expect(me).toMatchObject({ ok: true, user_id: slack.workspace.bot.userId });
    const stranger = new WebClient('xoxb-someone-else', {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
    });
    expect(await slackError(stranger.auth.test())).toEqual({ error: 'invalid_auth', messages: undefined });
    expect((await slackError(client.apiCall('chat.scheduleMessage', {}))).error).toBe('unknown_method');
  });

  it('refuses blocks Slack refuses, pointing at the offending field', async () => {
    const longHeader = { type: 'header', text: { type: 'plain_text', text: 'x'.repeat(151) } };
    const refused = await slackError(
      client.chat.postMessage({ channel: 'C0INCIDENTS', text: 'report', blocks: [longHeader] }),
    );
    expect(refused.error).toBe('invalid_blocks');
    expect(refused.messages?.join('\n')).toContain('/blocks/0/text/text');

    const divider = { type: 'divider' } as const;
    const tooMany = await slackError(
      client.chat.postMessage({ channel: 'C0INCIDENTS', text: 'report', blocks: Array(51).fill(divider) }),
    );
    expect(tooMany.error).toBe('invalid_blocks');
    expect((await slackError(client.chat.postMessage({ channel: 'C0INCIDENTS', text: '' }))).error).toBe(
      'no_text',
    );
    expect((await slackError(client.chat.postMessage({ channel: 'C0NOWHERE', text: 'hi' }))).error).toBe(
      'channel_not_found',
    );
    // Nothing refused was stored.
    expect(slack.workspace.snapshot('U0ALICE', '').messages).toHaveLength(0);
  });

  it('keeps threads, edits, pins and channels with Slack’s rules', async () => {
    const root = await client.chat.postMessage({ channel: 'C0INCIDENTS', text: 'root' });
    const reply = await client.chat.postMessage({
      channel: 'C0INCIDENTS',
      text: 'reply',
      thread_ts: root.ts,
    });
    // A reply to a reply lands in the parent's thread.
    await client.chat.postMessage({ channel: 'C0INCIDENTS', text: 'nested', thread_ts: reply.ts });
    expect(
      (
        await slackError(
          client.chat.postMessage({ channel: 'C0INCIDENTS', text: 'x', thread_ts: '1.000001' }),
        )
      ).error,
    ).toBe('thread_not_found');
    await client.chat.update({ channel: 'C0INCIDENTS', ts: root.ts!, text: 'root, edited' });
    await client.pins.add({ channel: 'C0INCIDENTS', timestamp: root.ts! });
    expect((await slackError(client.pins.add({ channel: 'C0INCIDENTS', timestamp: root.ts! }))).error).toBe(
      'already_pinned',
    );

    const state = slack.workspace.snapshot('U0ALICE', '');
    const parent = state.messages.find((message) => message.ts === root.ts)!;
    expect(parent).toMatchObject({ text: 'root, edited', edited: true, replyCount: 2, threadTs: root.ts });
    expect(
      state.messages.filter((message) => message.threadTs === root.ts && message.ts !== root.ts),
    ).toHaveLength(2);
    expect(state.channels.find((channel) => channel.id === 'C0INCIDENTS')?.pins).toEqual([root.ts]);

    const created = await client.conversations.create({ name: 'inc-20261124-db-down' });
    expect((await slackError(client.conversations.create({ name: 'inc-20261124-db-down' }))).error).toBe(
      'name_taken',
    );
    expect((await slackError(client.conversations.create({ name: 'Has Spaces' }))).error).toBe(
      'invalid_name_specials',
    );
    await client.conversations.invite({ channel: created.channel!.id!, users: 'U0ALICE' });
    expect(
      (await slackError(client.conversations.invite({ channel: created.channel!.id!, users: 'U0ALICE' })))
        .error,
    ).toBe('already_in_channel');
    expect(
      (
        await slackError(
          client.conversations.invite({ channel: created.channel!.id!, users: slack.workspace.bot.userId }),
        )
      ).error,
    ).toBe('cant_invite_self');
    expect(await client.usergroups.users.list({ usergroup: 'S0ONCALL' })).toMatchObject({
      users: ['U0ALICE', 'U0BOB'],
    });
    expect(
      (
        await slackError(
          client.views.open({
            trigger_id: '123.abc',
            view: { type: 'modal', title: { type: 'plain_text', text: 'x' }, blocks: [] },
          }),
        )
      ).error,
    ).toBe('invalid_trigger_id');
  });

  it('gives permalinks the console opens: the thread shown, scrolled to the message', async () => {
    const root = await client.chat.postMessage({ channel: 'C0INCIDENTS', text: 'summary' });
    const reply = await client.chat.postMessage({
      channel: 'C0INCIDENTS',
      text: 'report',
      thread_ts: root.ts,
    });
    const link = new URL(
      (await client.chat.getPermalink({ channel: 'C0INCIDENTS', message_ts: reply.ts! })).permalink!,
    );
    expect(link.origin).toBe(slack.url);
    expect(Object.fromEntries(link.searchParams)).toEqual({
      channel: 'C0INCIDENTS',
      thread: root.ts,
      message: reply.ts,
    });
    const top = new URL(
      (await client.chat.getPermalink({ channel: 'C0INCIDENTS', message_ts: root.ts! })).permalink!,
    );
    expect(top.searchParams.get('thread')).toBe(root.ts);
    // The page itself answers at that address.
    expect((await fetch(link)).status).toBe(200);
    expect(
      (await slackError(client.chat.getPermalink({ channel: 'C0INCIDENTS', message_ts: '1.000001' }))).error,
    ).toBe('message_not_found');
  });

  it('delivers a click on the rendering a person saw moments ago, not on one long replaced', async () => {
    const button = {
      type: 'actions',
      block_id: 'approve_block',
      elements: [{ type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' } }],
    };
    const card = await client.chat.postMessage({ channel: 'C0INCIDENTS', text: 'card', blocks: [button] });
    await client.chat.update({ channel: 'C0INCIDENTS', ts: card.ts!, text: 'approved', blocks: [] });
    const click = () =>
      consolePost(slack.url, 'action', {
        user: 'U0BOB',
        channel: 'C0INCIDENTS',
        messageTs: card.ts!,
        blockId: 'approve_block',
        actionId: 'approve',
      });
    // Just replaced: the click was made on what the client still showed, and goes to the bot
    // (which this console does not have, hence a failed dispatch rather than a refusal).
    expect((await click()).error).not.toMatch(/action_not_found/);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 6000);
      expect(await click()).toMatchObject({ ok: false, error: expect.stringMatching(/^action_not_found/) });
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps message metadata and reads it back in history and replies, as a retry looks it up', async () => {
    const metadata = { event_type: 'runbook_bot_post', event_payload: { post_key: 'health-report:r1' } };
    const root = await client.chat.postMessage({ channel: 'C0DATABASE', text: 'report', metadata });
    const reply = await client.chat.postMessage({
      channel: 'C0DATABASE',
      text: 'step',
      thread_ts: root.ts,
      metadata: { event_type: 'runbook_bot_post', event_payload: { post_key: 'procedure-step:r1:1' } },
    });
    const history = await client.conversations.history({ channel: 'C0DATABASE', include_all_metadata: true });
    expect(history.messages?.[0]).toMatchObject({ ts: root.ts, metadata });
    // Replies are in their thread, not in the channel's history.
    expect(history.messages?.some((message) => message.ts === reply.ts)).toBe(false);
    const replies = await client.conversations.replies({
      channel: 'C0DATABASE',
      ts: root.ts!,
      include_all_metadata: true,
    });
    expect(
      replies.messages?.map(
        (message) => (message.metadata?.event_payload as { post_key?: string })?.post_key,
      ),
    ).toEqual(['health-report:r1', 'procedure-step:r1:1']);
    const later = await client.conversations.history({ channel: 'C0DATABASE', oldest: root.ts! });
    expect(later.messages?.some((message) => message.ts === root.ts)).toBe(false);
    await client.chat.postMessage({ channel: 'C0DATABASE', text: 'another' });
    const paged = await client.conversations.history({ channel: 'C0DATABASE', limit: 1 });
    expect(paged).toMatchObject({ has_more: true, response_metadata: { next_cursor: '1' } });
    expect(
      (await client.conversations.history({ channel: 'C0DATABASE' })).messages?.[0]?.metadata,
    ).toBeUndefined();
    expect(
      (
        await slackError(
          client.chat.postMessage({ channel: 'C0DATABASE', text: 'x', metadata: '{' as never }),
        )
      ).error,
    ).toBe('invalid_metadata_format');
  });

  it('checks what a bot answers in its acknowledgement like any message it sends', async () => {
    // A bot whose ack carries a header over Slack's 150 characters.
    const bot = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          response_type: 'ephemeral',
          text: 'report',
          blocks: [{ type: 'header', text: { type: 'plain_text', text: 'x'.repeat(151) } }],
        }),
      );
    });
    await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
    slack.setBotUrl(`http://127.0.0.1:${(bot.address() as AddressInfo).port}/slack/events`);
    try {
      expect(
        await consolePost(slack.url, 'send', { user: 'U0CAROL', channel: 'C0DATABASE', text: '/runbook x' }),
      ).toEqual({
        ok: true,
      });
      const state = await consoleState(slack.url, 'U0CAROL');
      expect(state.messages.at(-1)).toMatchObject({
        user: 'USLACKBOT',
        text: '/runbook failed with the error "invalid_blocks"',
      });
      expect(state.bot.lastError).toContain('/blocks/0/text/text');
    } finally {
      bot.close();
      slack.setBotUrl('');
    }
  });

  it('takes a file upload (v2 flow) into a thread and serves it back', async () => {
    const root = await client.chat.postMessage({ channel: 'C0DATABASE', text: 'incident' });
    await client.files.uploadV2({
      channel_id: 'C0DATABASE',
      thread_ts: root.ts!,
      filename: 'INC-1-report.md',
      title: 'INC-1 report draft',
      content: '# Incident report\n',
      initial_comment: 'Draft report attached',
    } as Parameters<WebClient['files']['uploadV2']>[0]);
    const posted = slack.workspace
      .snapshot('U0ALICE', '')
      .messages.find((message) => message.text === 'Draft report attached') as ConsoleMessage;
    expect(posted.threadTs).toBe(root.ts);
    expect(posted.files?.[0]).toMatchObject({ name: 'INC-1-report.md', title: 'INC-1 report draft' });
    const download = await fetch(`${slack.url}${posted.files![0]!.url}`);
    expect(await download.text()).toBe('# Incident report\n');
  });
});

describe('the bot behind the console, as people use it', () => {
  let demo: ConsoleDemo;
  let url: string;
  const botMessages = async (user: string, where: (message: ConsoleMessage) => boolean) =>
    (await consoleState(url, user)).messages.filter(
      (message) => message.user === demo.console.workspace.bot.userId && where(message),
    );

  beforeAll(async () => {
    demo = await startTestConsoleDemo(server!.url);
    url = demo.console.url;
  }, 60_000);
  afterAll(async () => {
    await demo?.stop();
  });

  it('answers /runbook health ephemerally, then posts the report for everyone, with working buttons', async () => {
    expect(
      await consolePost(url, 'send', { user: 'U0ALICE', channel: 'C0INCIDENTS', text: '/runbook health' }),
    ).toEqual({
      ok: true,
    });
    const [ack] = await botMessages('U0ALICE', (message) => Boolean(message.ephemeral));
    expect(ack?.text).toMatch(/Running health check on demo/);
    // Ephemeral: bob never sees alice's acknowledgement.
    expect(await botMessages('U0BOB', (message) => Boolean(message.ephemeral))).toHaveLength(0);

    const report = await eventually(async () => {
      const [posted] = await botMessages('U0BOB', (message) => Boolean(message.blocks) && !message.ephemeral);
      return posted;
    }, 30_000);
    expect(JSON.stringify(report.blocks)).toContain('idle_in_transaction');

    // Details: the console finds the button by the ids Slack would send, the bot answers in the thread.
    await clickDetailsAndAwaitReply(url, 'U0BOB', report);
  });

  it('answers bad input clearly, and says so when the bot cannot be reached', async () => {
    await consolePost(url, 'send', { user: 'U0CAROL', channel: 'C0DATABASE', text: '/runbook frobnicate' });
    const [usage] = await botMessages('U0CAROL', (message) => Boolean(message.ephemeral));
    expect(usage?.text).toMatch(/frobnicate/);

    await consolePost(url, 'send', { user: 'U0CAROL', channel: 'C0DATABASE', text: '/deploy now' });
    const slackbot = (await consoleState(url, 'U0CAROL')).messages.find(
      (message) => message.user === 'USLACKBOT',
    );
    expect(slackbot?.text).toMatch(/`\/deploy` is not a valid command/);

    const refused = await consolePost(url, 'action', {
      user: 'U0CAROL',
      channel: 'C0DATABASE',
      messageTs: '1.000001',
      blockId: 'b',
      actionId: 'a',
    });
    expect(refused).toEqual({ ok: false, error: 'message_not_found' });

    const botUrl = (await consoleState(url, 'U0CAROL')).bot.url;
    demo.console.setBotUrl('http://127.0.0.1:9/slack/events');
    try {
      await consolePost(url, 'send', { user: 'U0CAROL', channel: 'C0DATABASE', text: '/runbook health' });
      const state = await consoleState(url, 'U0CAROL');
      expect(state.bot.lastError).toMatch(/unreachable at http:\/\/127\.0\.0\.1:9/);
      expect(state.messages.at(-1)).toMatchObject({
        user: 'USLACKBOT',
        text: '/runbook failed with the error "dispatch_failed"',
      });
    } finally {
      demo.console.setBotUrl(botUrl);
    }
  });
});

describe('/runbook health all through the console', () => {
  let demo: ConsoleDemo;
  let url: string;

  beforeAll(async () => {
    demo = await startTestConsoleDemo(server!.url, { fleet: true });
    url = demo.console.url;
  }, 60_000);
  afterAll(async () => {
    await demo?.stop();
  });

  it('posts one summary with a report per problem target in its thread, linked from the summary', async () => {
    const bot = demo.console.workspace.bot.userId;
    await consolePost(url, 'send', { user: 'U0ALICE', channel: 'C0INCIDENTS', text: '/runbook health all' });
    const ack = (await consoleState(url, 'U0ALICE')).messages.find(
      (message) => message.user === bot && message.ephemeral,
    );
    expect(ack?.text).toBe('Checking all targets: 2 targets; one summary follows here.');
    // The summary is edited once every problem report is in its thread and linked.
    const summary = await eventually(async () => {
      const found = (await consoleState(url, 'U0BOB')).messages.find(
        (message) => message.user === bot && /Health of all targets/.test(message.text) && message.edited,
      );
      return found;
    }, 30_000);
    const messages = (await consoleState(url, 'U0BOB')).messages;
    expect(
      messages.filter((message) => message.user === bot && /Health of all targets/.test(message.text)),
    ).toHaveLength(1);
    const replies = messages.filter(
      (message) => message.threadTs === summary.ts && message.ts !== summary.ts,
    );
    const targets = replies.map((reply) => reply.text.match(/^Health of (\w+)/)?.[1]);
    expect(targets).toContain('gone');
    expect(targets).toEqual([...new Set(targets)]);
    expect(summary.replyCount).toBe(replies.length);
    const blocks = JSON.stringify(summary.blocks);
    for (const reply of replies)
      expect(blocks).toContain(`?channel=C0INCIDENTS&thread=${summary.ts}&message=${reply.ts}|report`);
    // The fleet is recorded as posted: the recovery sweep leaves it alone.
    const queued: unknown[] = [];
    const stranded = await demo.service.runs.requeueStrandedFleets(
      { quietSeconds: 0, windowSeconds: 3600, limit: 10 },
      async (fleets) => {
        queued.push(...fleets);
      },
    );
    expect([stranded, queued]).toEqual([[], []]);
  });
});

describe('the bot over Socket Mode, the console standing in for Slack', () => {
  let demo: ConsoleDemo;

  beforeAll(async () => {
    demo = await startTestConsoleDemo(server!.url, { socketMode: true });
  }, 60_000);
  afterAll(async () => {
    await demo?.stop();
  });

  it('receives commands and clicks as envelopes, acknowledges them, and posts through SLACK_API_URL', async () => {
    const url = demo.console.url;
    const state = await consoleState(url, 'U0ALICE');
    // No request URL at all: everything below went over the WebSocket.
    expect(state.bot.url).toBe('');
    expect(
      await consolePost(url, 'send', { user: 'U0ALICE', channel: 'C0INCIDENTS', text: '/runbook health' }),
    ).toEqual({ ok: true });
    const bot = demo.console.workspace.bot.userId;
    const ack = (await consoleState(url, 'U0ALICE')).messages.find((message) => message.ephemeral);
    expect(ack).toMatchObject({ user: bot, text: 'Running health check on demo…' });
    const report = await eventually(
      async () =>
        (await consoleState(url, 'U0ALICE')).messages.find(
          (message) => message.user === bot && !message.ephemeral && message.blocks,
        ),
      30_000,
    );
    await clickDetailsAndAwaitReply(url, 'U0ALICE', report);
    expect((await consoleState(url, 'U0ALICE')).bot.lastError).toBeUndefined();
  });

  it('takes the app-level token for apps.connections.open only, as Slack does', async () => {
    const slack = await startConsole({
      port: 0,
      botToken: TOKEN,
      signingSecret: 'secret-1234',
      appToken: 'xapp-1-test',
    });
    try {
      const asApp = new WebClient('xapp-1-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
      const asBot = new WebClient(TOKEN, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
      expect((await asApp.apps.connections.open({})).url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/socket\/\w+$/);
      expect((await slackError(asBot.apps.connections.open({}))).error).toBe('not_allowed_token_type');
      expect((await slackError(asApp.chat.postMessage({ channel: 'C0INCIDENTS', text: 'hi' }))).error).toBe(
        'not_allowed_token_type',
      );
    } finally {
      await slack.close();
    }
  });
});

/** Presses a report's first Details button as `user` and waits for the bot's answer in its thread. */
async function clickDetailsAndAwaitReply(url: string, user: string, report: ConsoleMessage): Promise<void> {
  const details = (report.blocks as Array<{ block_id: string; accessory?: { action_id: string } }>).find(
    (block) => block.accessory?.action_id === ACTIONS.healthDetails,
  )!;
  const clicked = await consolePost(url, 'action', {
    user,
    channel: report.channel,
    messageTs: report.ts,
    blockId: details.block_id,
    actionId: ACTIONS.healthDetails,
  });
  expect(clicked).toEqual({ ok: true });
  // A reply by the bot itself in the report's thread.
  await eventually(async () => {
    const state = await consoleState(url, user);
    const replies = state.messages.filter(
      (message) =>
        message.user === state.botUserId &&
        message.threadTs === report.ts &&
        message.ts !== report.ts &&
        !message.ephemeral,
    );
    return replies.length > 0 ? replies : undefined;
  }, 15_000);
}
