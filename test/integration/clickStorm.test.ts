import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig, type ServiceConfig } from '../../src/config.js';
import { type RunningService, startService } from '../../src/service.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import {
  captureLogs,
  eventually,
  interceptPostMessage,
  type Posted,
  serviceEnv,
} from '../support/botHarness.js';
import { createTestDatabase, openSession, type TestDatabase } from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import { interceptSlackOnly, sendBlockAction, sendSlashCommand } from '../support/slack.js';

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
  'This request is already approved and executing.',
  'This request has already run (succeeded).',
];
const APPROVERS = ['U0APPROVERA', 'U0APPROVERB'];

interceptSlackOnly();

/** The Slack side of one storm: every post, card update and click answer the bot makes. */
function interceptSlack() {
  const posted: Posted[] = [];
  interceptPostMessage(posted);
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
});
