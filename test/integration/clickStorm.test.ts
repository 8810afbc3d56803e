import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig, type ServiceConfig } from '../../src/config.js';
import { type RunningConsole, startConsole } from '../../src/console/consoleServer.js';
import type { ConsoleMessage } from '../../src/console/protocol.js';
import { type RunningService, startService } from '../../src/service.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import {
  captureLogs,
  eventually,
  interceptChatUpdate,
  interceptPostMessage,
  type Posted,
  serviceEnv,
} from '../support/botHarness.js';
import { consolePost, consoleState } from '../support/consoleDemo.js';
import { createTestDatabase, openSession, type TestDatabase } from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import {
  BOT_TOKEN,
  interceptSlackOnly,
  SIGNING_SECRET,
  sendBlockAction,
  sendSlashCommand,
} from '../support/slack.js';

const [server] = inject('postgresServers');

/** An action that is not idempotent: the counter says how many times it ran. */
const STORM_RUNBOOK = `# Storm Runbook

## Bump the counter

**Diagnosis:**
\`\`\`sql
SELECT n FROM storm_counter;
\`\`\`

**Fix:**
\`\`\`sql
UPDATE storm_counter SET n = n + 1;
\`\`\`
`;

const CLICKS = 100;
/** What a click that changes nothing is told, depending on how far the request has got. */
const REFUSALS = [
  'You have already approved this request.',
  'This request is already approved; it runs as soon as a worker takes it.',
  'This request is already approved and executing.',
  'This request has already run (succeeded).',
];
const APPROVERS = ['U0APPROVERA', 'U0APPROVERB'];

interceptSlackOnly();

/** The Slack side of one storm: every post, card update and click answer the bot makes. */
function interceptSlack() {
  const posted: Posted[] = [];
  interceptPostMessage(posted);
  const updates = interceptChatUpdate();
  // Button answers go to the click's response_url (sendBlockAction's), command answers elsewhere.
  const clickAnswers: string[] = [];
  nock('https://hooks.slack.com')
    .persist()
    .post(/.*/)
    .reply(200, (uri, body) => {
      if (uri.startsWith('/actions/')) clickAnswers.push((body as { text?: string }).text ?? '');
      return 'ok';
    });
  return { posted, updates, clickAnswers };
}

function buttonValue(message: Posted, actionId: string): string {
  for (const block of message.blocks) {
    if (block.type !== 'actions') continue;
    for (const element of (block as { elements: Array<{ action_id?: string; value?: string }> }).elements)
      if (element.action_id === actionId) return element.value ?? '';
  }
  throw new Error(`no ${actionId} button`);
}

/** Runs the procedure, previews its action and requests approval: a request waiting for approvers. */
async function pendingRequest(port: number, slack: ReturnType<typeof interceptSlack>, channel: string) {
  await sendSlashCommand(port, { text: 'run storm-runbook#bump-the-counter', channel_id: channel });
  const root = await eventually(() => slack.posted.find((m) => m.channel === channel && !m.threadTs));
  const action = await eventually(() =>
    slack.posted.find((m) => m.threadTs === root.ts && m.text.endsWith('(action)')),
  );
  await sendBlockAction(port, {
    actionId: ACTIONS.stepPreview,
    value: buttonValue(action, ACTIONS.stepPreview),
    channelId: channel,
  });
  const card = await eventually(() =>
    slack.posted.find(
      (m) => m.threadTs === root.ts && JSON.stringify(m.blocks).includes(ACTIONS.requestApproval),
    ),
  );
  const requestId = buttonValue(card, ACTIONS.requestApproval);
  await sendBlockAction(port, {
    actionId: ACTIONS.requestApproval,
    value: requestId,
    channelId: channel,
    messageTs: card.ts,
  });
  await eventually(() => slack.updates.find((u) => u.ts === card.ts && u.blocks.includes(ACTIONS.approve)));
  return { requestId, card };
}

/**
 * Two approvers click Approve CLICKS times at once on a pending request while someone asks
 * for a health report elsewhere.
 */
async function storm(port: number, target: TestDatabase, state: TestDatabase): Promise<void> {
  const slack = interceptSlack();
  const { requestId, card } = await pendingRequest(port, slack, 'CSTORM');

  const answeredBefore = slack.clickAnswers.length;
  const clicks = Promise.all(
    Array.from({ length: CLICKS }, (_, i) =>
      sendBlockAction(port, {
        actionId: ACTIONS.approve,
        value: requestId,
        channelId: 'CSTORM',
        userId: APPROVERS[i % 2],
        messageTs: card.ts,
      }),
    ),
  );
  // The bot keeps serving everyone else meanwhile.
  const health = await sendSlashCommand(port, { text: 'health', channel_id: 'CHEALTH' });
  expect(health.json?.text).toBe('Running health check on default…');
  expect((await clicks).every((click) => click.status === 200)).toBe(true);
  await eventually(() => slack.posted.find((m) => m.channel === 'CHEALTH'), 60_000);

  // Every click answered: one approval recorded, one that approved, the rest told why not.
  const stormAnswers = await eventually(() => {
    const answers = slack.clickAnswers.slice(answeredBefore);
    return answers.length >= CLICKS ? answers : undefined;
  }, 60_000);
  expect(stormAnswers).toHaveLength(CLICKS);
  expect(stormAnswers.filter((text) => text === 'Approved: executing now.')).toHaveLength(1);
  expect(stormAnswers.filter((text) => text === 'Approval recorded (1 of 2).')).toHaveLength(1);
  // The others are told why their click changed nothing, none that the bot failed.
  const refusals = new Set(stormAnswers.filter((text) => !text.startsWith('Approv')));
  expect([...refusals].filter((text) => !REFUSALS.includes(text))).toEqual([]);

  // Exactly one execution, finished, and shown on the card.
  await eventually(
    () => slack.updates.find((u) => u.ts === card.ts && u.text.endsWith(': succeeded')),
    60_000,
  );
  const counter = await target.admin.query<{ n: number }>('SELECT n FROM storm_counter');
  expect(counter.rows[0]!.n).toBe(1);
  const stateClient = new pg.Client({ connectionString: state.url });
  await stateClient.connect();
  try {
    const started = await stateClient.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE request_id = $1 AND kind = 'execution_started'",
      [requestId],
    );
    expect(started.rows[0]!.n).toBe(1);
    const request = await stateClient.query<{ status: string }>(
      'SELECT status FROM action_requests WHERE id = $1',
      [requestId],
    );
    expect(request.rows[0]!.status).toBe('succeeded');
  } finally {
    await stateClient.end();
  }
}

async function setUp(redis?: TestRedis) {
  const [state, target] = await Promise.all([
    createTestDatabase(server!.url, { demoSchema: false }),
    createTestDatabase(server!.url, { demoSchema: false }),
  ]);
  await target.admin.query(
    'CREATE TABLE storm_counter (n int NOT NULL); INSERT INTO storm_counter VALUES (0);',
  );
  const runbooksDir = mkdtempSync(join(tmpdir(), 'storm-runbooks-'));
  writeFileSync(join(runbooksDir, 'storm.md'), STORM_RUNBOOK);
  const env = { ...serviceEnv(state, target, redis?.url), RUNBOOKS_DIR: runbooksDir };
  const config = (mode: 'bot' | 'worker' | 'all'): ServiceConfig => ({
    ...loadServiceConfig(env, { mode }),
    // Two people must approve: two approvers click, each many times.
    policy: { defaults: { approvals: 2 } },
  });
  return {
    state,
    target,
    config,
    env,
    async drop() {
      await Promise.all([state.drop(), target.drop()]);
      rmSync(runbooksDir, { recursive: true, force: true });
    },
  };
}

describe('a storm of Approve clicks', () => {
  describe('in `all` mode (one process, the queue on the state database)', () => {
    let setup: Awaited<ReturnType<typeof setUp>>;
    let service: RunningService;
    const logs = captureLogs();
    beforeAll(async () => {
      setup = await setUp();
      service = await startService({ mode: 'all', config: setup.config('all'), logger: logs.logger });
    });
    afterAll(async () => {
      await service?.stop();
      await setup?.drop();
    });

    it(`executes once, answers all ${CLICKS} clicks and keeps serving /runbook health`, async () => {
      await storm(service.port, setup.target, setup.state);
    }, 180_000);

    it('answers a click on a request whose row someone left locked, and does not wait for ever', async () => {
      const slack = interceptSlack();
      const { requestId, card } = await pendingRequest(service.port, slack, 'CLOCKED');
      // A session that locked the request and went away without ending its transaction.
      const holder = await openSession(setup.state.url, 'stuck-session');
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM action_requests WHERE id = $1 FOR UPDATE', [requestId]);
      const answered = slack.clickAnswers.length;
      await sendBlockAction(service.port, {
        actionId: ACTIONS.approve,
        value: requestId,
        channelId: 'CLOCKED',
        userId: APPROVERS[0],
        messageTs: card.ts,
      });
      // Answered while the lock is still held: the bot's wait for the row gave up.
      const answer = await eventually(() => slack.clickAnswers[answered], 30_000);
      expect(answer).toMatch(/^That did not go through/);
      expect(await holder.query('SELECT 1 AS still')).toMatchObject({ rows: [{ still: 1 }] });
      await holder.query('ROLLBACK');
      await holder.end();
      // And the next click goes through as usual.
      await sendBlockAction(service.port, {
        actionId: ACTIONS.approve,
        value: requestId,
        channelId: 'CLOCKED',
        userId: APPROVERS[0],
        messageTs: card.ts,
      });
      expect(await eventually(() => slack.clickAnswers[answered + 1])).toBe('Approval recorded (1 of 2).');
    }, 60_000);
  });

  describe('with a separate bot and worker', () => {
    let setup: Awaited<ReturnType<typeof setUp>>;
    let redis: TestRedis | undefined;
    let bot: RunningService;
    let worker: RunningService;
    const logs = captureLogs();
    beforeAll(async () => {
      // Redis where it is installed (production's layout); else both share the Postgres queue.
      redis = redisAvailable() ? await startTestRedis() : undefined;
      setup = await setUp(redis);
      worker = await startService({ mode: 'worker', config: setup.config('worker'), logger: logs.logger });
      bot = await startService({ mode: 'bot', config: setup.config('bot'), logger: logs.logger });
    });
    afterAll(async () => {
      await bot?.stop();
      await worker?.stop();
      await redis?.stop();
      await setup?.drop();
    });

    it(`executes once, answers all ${CLICKS} clicks and keeps serving /runbook health`, async () => {
      await storm(bot.port, setup.target, setup.state);
    }, 180_000);
  });

  /**
   * The production layout for real: `runbook-bot-server bot` and `worker` as processes of
   * their own on Redis, the local console standing in for Slack (it signs what it delivers
   * and takes the response_url answers).
   */
  describe.skipIf(!redisAvailable())('as separate bot and worker processes', () => {
    let setup: Awaited<ReturnType<typeof setUp>>;
    let redis: TestRedis;
    let slack: RunningConsole;
    let policyDir: string;
    const children: ChildProcess[] = [];

    const spawnServer = async (mode: 'bot' | 'worker', env: NodeJS.ProcessEnv): Promise<number> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', mode], {
        env: { ...process.env, ...env, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const started = await eventually(() => {
        const line = output
          .split('\n')
          .find((candidate) => candidate.includes('"msg":"runbook-bot started"'));
        return line ? (JSON.parse(line) as { port: number }) : undefined;
      }, 60_000);
      return started.port;
    };

    beforeAll(async () => {
      redis = await startTestRedis();
      setup = await setUp(redis);
      slack = await startConsole({ port: 0, botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET });
      policyDir = mkdtempSync(join(tmpdir(), 'storm-policy-'));
      writeFileSync(join(policyDir, 'policy.yml'), 'defaults:\n  approvals: 2\n');
      const env = {
        ...setup.env,
        SLACK_API_URL: slack.apiUrl,
        POLICY_FILE: join(policyDir, 'policy.yml'),
      };
      const [botPort] = await Promise.all([spawnServer('bot', env), spawnServer('worker', env)]);
      slack.setBotUrl(`http://127.0.0.1:${botPort}/slack/events`);
    }, 120_000);
    afterAll(async () => {
      for (const child of children) {
        if (child.exitCode !== null) continue;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await slack?.close();
      await redis?.stop();
      await setup?.drop();
      if (policyDir) rmSync(policyDir, { recursive: true, force: true });
    });

    const botMessages = async (user: string) => {
      const state = await consoleState(slack.url, user);
      return state.messages.filter((message) => message.user === state.botUserId);
    };
    const click = (user: string, message: ConsoleMessage, actionId: string) => {
      const block = (
        message.blocks as Array<{ block_id: string; elements?: Array<{ action_id: string }> }>
      ).find((candidate) => candidate.elements?.some((element) => element.action_id === actionId))!;
      return consolePost(slack.url, 'action', {
        user,
        channel: message.channel,
        messageTs: message.ts,
        blockId: block.block_id,
        actionId,
      });
    };
    const hasButton = (message: ConsoleMessage, actionId: string) =>
      JSON.stringify(message.blocks ?? []).includes(`"${actionId}"`);

    it(`executes once, answers all ${CLICKS} clicks and keeps serving /runbook health`, async () => {
      await consolePost(slack.url, 'send', {
        user: 'U0ALICE',
        channel: 'C0INCIDENTS',
        text: '/runbook run storm-runbook#bump-the-counter',
      });
      const action = await eventually(async () =>
        (await botMessages('U0ALICE')).find(
          (message) => message.text.endsWith('(action)') && hasButton(message, ACTIONS.stepPreview),
        ),
      );
      await click('U0ALICE', action, ACTIONS.stepPreview);
      const card = await eventually(async () =>
        (await botMessages('U0ALICE')).find((message) => hasButton(message, ACTIONS.requestApproval)),
      );
      await click('U0ALICE', card, ACTIONS.requestApproval);
      const pending = await eventually(async () =>
        (await botMessages('U0ALICE')).find(
          (message) => message.ts === card.ts && hasButton(message, ACTIONS.approve),
        ),
      );

      const approvers = ['U0BOB', 'U0CAROL'];
      const clicks = Promise.all(
        Array.from({ length: CLICKS }, (_, i) => click(approvers[i % 2]!, pending, ACTIONS.approve)),
      );
      const health = await consolePost(slack.url, 'send', {
        user: 'U0ALICE',
        channel: 'C0DATABASE',
        text: '/runbook health',
      });
      expect(health).toEqual({ ok: true });
      expect((await clicks).filter((clicked) => !clicked.ok)).toEqual([]);
      await eventually(
        async () =>
          (await botMessages('U0ALICE')).find(
            (message) => message.channel === 'C0DATABASE' && message.text.startsWith('Health of default'),
          ),
        60_000,
      );

      // Every click answered (to the person who clicked, ephemeral).
      const answers = await eventually(async () => {
        const all = (
          await Promise.all(
            approvers.map(async (user) =>
              (await botMessages(user)).filter((message) => message.ephemeral).map((message) => message.text),
            ),
          )
        ).flat();
        return all.length >= CLICKS ? all : undefined;
      }, 60_000);
      expect(answers).toHaveLength(CLICKS);
      expect(answers.filter((text) => text === 'Approved: executing now.')).toHaveLength(1);
      expect(answers.filter((text) => text === 'Approval recorded (1 of 2).')).toHaveLength(1);
      const refusals = new Set(answers.filter((text) => !text.startsWith('Approv')));
      expect([...refusals].filter((text) => !REFUSALS.includes(text))).toEqual([]);

      await eventually(
        async () =>
          (await botMessages('U0ALICE')).find(
            (message) => message.ts === card.ts && message.text.endsWith(': succeeded'),
          ),
        60_000,
      );
      const counter = await setup.target.admin.query<{ n: number }>('SELECT n FROM storm_counter');
      expect(counter.rows[0]!.n).toBe(1);
    }, 240_000);
  });
});
