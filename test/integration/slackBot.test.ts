import nock from 'nock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cliApp.js';
import { loadServiceConfig } from '../../src/config.js';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import { requeueStrandedRuns, STRANDED_RUN_SWEEP } from '../../src/service/strandedRuns.js';
import { type RunningService, startService } from '../../src/service.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import { blockViolations } from '../../src/slack/blockLimits.js';
import {
  captureLogs,
  countRuns,
  eventually,
  interceptPostMessage,
  type Posted,
  serviceEnv,
  untilReady,
} from '../support/botHarness.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
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

describe.skipIf(!redisAvailable())('Slack bot on Redis', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let redis: TestRedis;
  let service: RunningService;
  const logs = captureLogs();

  beforeAll(async () => {
    [state, target, redis] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url),
      startTestRedis(),
    ]);
    const env = serviceEnv(state, target, redis.url);
    const config = loadServiceConfig(env, { mode: 'all' });
    service = await startService({
      mode: 'all',
      // The test sweeps when it means to; the service's own sweeper would race it.
      config: { ...config, recoverySweep: { ...config.recoverySweep, everyMs: 3_600_000 } },
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await service?.stop();
    await redis?.stop();
    await Promise.all([state?.drop(), target?.drop()]);
  });

  it('acks a signed /runbook health at once and posts the report from a worker', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const response = await sendSlashCommand(service.port, { text: 'health' });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ response_type: 'ephemeral', text: 'Running health check on default…' });
    const message = await eventually(() => posted[0]);
    expect(message.channel).toBe('C0INCIDENT');
    expect(message.text).toMatch(/^Health of default: /);
    expect(message.blocks[0]).toMatchObject({ type: 'header' });
    expect(blockViolations(message.blocks)).toEqual([]);
    // The notifier records the message after Slack answers; wait for that write.
    const run = await eventually(async () => {
      const [latest] = await service.runs.recent(1);
      return latest?.postedTs ? latest : undefined;
    });
    expect(run).toMatchObject({
      status: 'done',
      target: 'default',
      requestedBy: 'U0ONCALL',
      postedTs: '1700000000.000000',
    });
    // A listing leaves reports out; the run's own read has it.
    expect((await service.runs.get(run!.id))?.report?.findings.length).toBe(HEALTH_CHECKS.length);
  });

  it('answers help and mistakes with ephemeral usage, enqueuing nothing', async () => {
    const before = await countRuns(state.url);
    const help = await sendSlashCommand(service.port, { text: '' });
    expect(help.json?.text).toContain('/runbook health [target]');
    const unknown = await sendSlashCommand(service.port, { text: 'helth' });
    expect(unknown.json?.text).toContain('Unknown subcommand "helth"');
    const target = await sendSlashCommand(service.port, { text: 'health prod' });
    expect(target.json).toEqual({
      response_type: 'ephemeral',
      text: 'Unknown target "prod". Known targets: default. `/runbook targets` lists them with their tags.',
    });
    const targets = await sendSlashCommand(service.port, { text: 'targets' });
    expect(targets.json?.text).toContain('*1 target*');
    expect(targets.json?.text).toContain('• `default`');
    expect(targets.json?.text).not.toContain('postgres://');
    const none = await sendSlashCommand(service.port, { text: 'targets tag:billing' });
    expect(none.json?.text).toBe(
      'No target has the tag "billing". No target has any tag. `/runbook targets` lists them all.',
    );
    const words = await sendSlashCommand(service.port, { text: 'targets billing' });
    expect(words.json?.text).toBe(
      'No target matches "billing" among 1 target. `/runbook targets` lists them all.',
    );
    const malformed = await sendSlashCommand(service.port, { text: "health '; DROP TABLE runs; --" });
    expect(malformed.json?.text).toContain('takes one optional argument');
    expect(await countRuns(state.url)).toBe(before);
  });

  it('rejects a bad or stale signature with 401 and records nothing', async () => {
    const before = await countRuns(state.url);
    const forged = await sendSlashCommand(service.port, { text: 'health' }, { secret: 'not-the-secret' });
    expect(forged.status).toBe(401);
    const stale = await sendSlashCommand(
      service.port,
      { text: 'health' },
      { timestamp: Math.floor(Date.now() / 1000) - 600 },
    );
    expect(stale.status).toBe(401);
    expect(await countRuns(state.url)).toBe(before);
  });

  it('creates one run for a Slack retry of the same request', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const before = await countRuns(state.url);
    const fields = { text: 'health', trigger_id: 'trigger-retried-1' };
    const first = await sendSlashCommand(service.port, fields);
    const retry = await sendSlashCommand(service.port, fields, {
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
    expect(first.json?.text).toBe('Running health check on default…');
    expect(retry.json?.text).toBe('Already running health check on default…');
    expect(await countRuns(state.url)).toBe(before + 1);
    await eventually(() => posted[0]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(posted).toHaveLength(1);
  });

  it('creates one run per request when many arrive together, retries among them', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const before = await countRuns(state.url);
    // Ten requests, each also retried twice by Slack, all in flight at once: they are
    // recorded in batches, with the retries inside the very batch of their original.
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        sendSlashCommand(
          service.port,
          { text: 'health', trigger_id: `burst-${i % 10}`, channel_id: `CBURST${i % 10}` },
          i >= 10 ? { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } } : {},
        ),
      ),
    );
    const texts = answers.map((answer) => answer.json?.text);
    expect(texts.filter((text) => text === 'Running health check on default…')).toHaveLength(10);
    expect(texts.filter((text) => text === 'Already running health check on default…')).toHaveLength(20);
    expect(await countRuns(state.url)).toBe(before + 10);
    await eventually(() => (posted.length >= 10 ? posted : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(posted.map((message) => message.channel).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `CBURST${i}`),
    );
    // Runs that shared a health check share its stored report: one row per check, not per run.
    const client = new pg.Client({ connectionString: state.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ runs: number; reports: number }>(
        `SELECT count(*)::int AS runs, count(DISTINCT report_id)::int AS reports
           FROM runs WHERE channel_id LIKE 'CBURST%' AND report_id IS NOT NULL`,
      );
      expect(rows[0]!.runs).toBe(10);
      expect(rows[0]!.reports).toBeLessThan(10);
    } finally {
      await client.end();
    }
  });

  it('tells the user the queue is unavailable while Redis is down, and recovers when it returns', async () => {
    await redis.stop();
    try {
      const down = await sendSlashCommand(service.port, { text: 'health' });
      expect(down.status).toBe(200);
      expect(down.json).toEqual({
        response_type: 'ephemeral',
        text: 'The job queue is unavailable right now, so nothing was started. Try again in a minute.',
      });
      const [failed] = await service.runs.recent(1);
      expect(failed).toMatchObject({ status: 'failed', error: 'queue unavailable' });
      const alive = await fetch(`http://127.0.0.1:${service.port}/healthz`);
      expect(alive.status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${service.port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toMatch(
        /^not ready: redis is unreachable \(connection (connecting|reconnecting)\)/,
      );
    } finally {
      await redis.start();
    }
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const back = await eventually(async () => {
      const attempt = await sendSlashCommand(service.port, { text: 'health' });
      return attempt.json?.text === 'Running health check on default…' ? attempt : undefined;
    }, 20_000);
    expect(back.status).toBe(200);
    await eventually(() => posted[0], 20_000);
  });

  it('posts the report after Retry-After when Slack answers 429, without blocking the worker', async () => {
    const posted: Posted[] = [];
    const slack = interceptPostMessage(posted, [
      [429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' }],
    ]);
    const started = Date.now();
    await sendSlashCommand(service.port, { text: 'health' });
    const message = await eventually(() => posted[0], 20_000);
    expect(slack.calls()).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(message.text).toMatch(/^Health of default/);
  });

  it('logs what the Web API client warns about through the bot’s logger, not the console', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted, [
      [200, { ok: true, ts: '1700000001.000001', response_metadata: { warnings: ['superfluous_charset'] } }],
    ]);
    await sendSlashCommand(service.port, { text: 'health' });
    await eventually(() => posted[0], 20_000);
    const warning = await eventually(() =>
      logs.lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'superfluous_charset'),
    );
    expect(warning).toMatchObject({ level: 40, component: expect.stringContaining('web-api') });
  });

  it('posts a batch of reports once each when Slack limits one of them, that one after Retry-After', async () => {
    const posted: Posted[] = [];
    // The second post of the batch is rate limited; the rest go through at once.
    const slack = interceptPostMessage(posted, [
      [200, { ok: true, ts: '1700000000.100001' }],
      [429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' }],
    ]);
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        sendSlashCommand(service.port, {
          text: 'health',
          trigger_id: `limited-${i}`,
          channel_id: `CLIMIT${i}`,
        }),
      ),
    );
    await eventually(() => (posted.length >= 5 ? posted : undefined), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(posted.map((message) => message.channel).sort()).toEqual(
      Array.from({ length: 5 }, (_, i) => `CLIMIT${i}`),
    );
    expect(slack.calls()).toBe(6);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it.each([
    ['a damaged button value', ACTIONS.healthDetails],
    ['a button the bot does not make (any more)', 'retired_button'],
  ])('answers %s instead of ignoring the click', async (_case, actionId) => {
    const answers = interceptResponseUrls();
    const click = await sendBlockAction(service.port, { actionId, value: '{not json' });
    expect(click.status).toBe(200);
    const answer = await eventually(() => answers[0]);
    expect(answer.text).toMatch(/out of date or damaged/);
  });

  it('posts a finding’s full evidence in the thread when Details is pressed, once per finding', async () => {
    const [run] = (await service.runs.recent(20)).filter((candidate) => candidate.status === 'done');
    const posted: Array<{ thread: string | null; text: string }> = [];
    nock('https://slack.com')
      .persist()
      .post('/api/chat.postMessage')
      .reply(200, (_uri, body) => {
        const params = new URLSearchParams(body as string);
        posted.push({ thread: params.get('thread_ts'), text: params.get('text') ?? '' });
        return { ok: true, ts: '1700000001.000001' };
      });
    const value = JSON.stringify({ runId: run!.id, check: 'connections' });
    const clicks = await Promise.all(
      [1, 2, 3].map(() =>
        sendBlockAction(service.port, {
          actionId: ACTIONS.healthDetails,
          value,
          messageTs: '1700000000.000777',
        }),
      ),
    );
    expect(clicks.map((click) => click.status)).toEqual([200, 200, 200]);
    const reply = await eventually(() => posted[0]);
    expect(reply).toEqual({ thread: '1700000000.000777', text: expect.stringMatching(/^Connections: /) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(posted).toHaveLength(1);
  });

  it('starts a new run from the Re-run button', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const responses: string[] = [];
    nock('https://hooks.slack.com')
      .post('/actions/T0001/1/xyz')
      .reply(200, (_uri, body) => {
        responses.push(JSON.stringify(body));
        return 'ok';
      });
    const before = await countRuns(state.url);
    const click = await sendBlockAction(service.port, {
      actionId: ACTIONS.healthRerun,
      value: JSON.stringify({ target: 'default' }),
    });
    expect(click.status).toBe(200);
    await eventually(() => posted[0]);
    expect(await countRuns(state.url)).toBe(before + 1);
    expect(await eventually(() => responses[0])).toContain('Running health check on default');
  });

  it('lists recorded runs with runbook-bot history', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), color: false };
    expect(await runCli(['history', '--limit', '3'], { ...io, env: { DATABASE_URL: state.url } })).toBe(0);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^\d{4}-\d\d-\d\dT.*health +default +(done|failed|queued|running) /);
    expect(await runCli(['history'], { ...io, env: {} })).toBe(3);
    expect(err.join('\n')).toContain('set DATABASE_URL');
  });

  it('serves metrics and readiness, counting every command the same way', async () => {
    const ready = await fetch(`http://127.0.0.1:${service.port}/readyz`);
    expect(ready.status).toBe(200);
    // /incident passes through the same pipeline as /runbook: counted, and its ack timed.
    await sendSlashCommand(service.port, { command: '/incident', text: 'help' });
    await sendSlashCommand(service.port, { command: '/incident', text: 'declare P9 nope' });
    const metrics = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
    expect(metrics).toContain(
      'runbook_bot_commands_total{command="/runbook",subcommand="health",outcome="queued"}',
    );
    expect(metrics).toContain(
      'runbook_bot_commands_total{command="/incident",subcommand="help",outcome="ok"} 1',
    );
    expect(metrics).toContain(
      'runbook_bot_commands_total{command="/incident",subcommand="declare",outcome="invalid"} 1',
    );
    expect(metrics).toMatch(/runbook_bot_ack_latency_seconds_count\{command="\/runbook"\} [1-9]/);
    expect(metrics).toMatch(/runbook_bot_ack_latency_seconds_count\{command="\/incident"\} 2/);
    expect(metrics).toMatch(/runbook_bot_queue_depth\{queue="diagnostics",state="waiting"\} \d+/);
    expect(metrics).toMatch(/runbook_bot_process_memory_bytes\{kind="rss"\} [1-9]\d{6,}/);
    expect(metrics).toMatch(/runbook_bot_process_memory_bytes\{kind="arrayBuffers"\} \d+/);
  });

  it('checks and posts, once, runs whose job was lost or whose report never reached Slack', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    // Recorded, never queued: the bot stopped in between, or Redis restarted empty.
    const { run: lost } = await service.runs.createHealthRun({
      target: 'default',
      requestedBy: 'U0LOST',
      channelId: 'C0LOST',
    });
    // Checked and stored, never posted: Slack was down for longer than the report job retried.
    const { run: unposted } = await service.runs.createHealthRun({
      target: 'default',
      requestedBy: 'U0LATE',
      channelId: 'C0LATE',
    });
    await service.runs.saveReport(unposted.id, {
      target: 'default',
      status: 'ok',
      startedAt: new Date().toISOString(),
      durationMs: 5,
      serverVersion: '18',
      findings: [],
    });
    await state.admin.query(
      `UPDATE runs SET created_at = created_at - interval '10 minutes', finished_at = finished_at - interval '10 minutes'
        WHERE id = ANY($1::uuid[])`,
      [[lost.id, unposted.id]],
    );

    const requeued = await requeueStrandedRuns(service.runs, service.queues, STRANDED_RUN_SWEEP);
    expect(requeued.map((run) => [run.id, run.status]).sort()).toEqual(
      [
        [lost.id, 'queued'],
        [unposted.id, 'done'],
      ].sort(),
    );
    await eventually(() => (posted.length >= 2 ? true : undefined), 20_000);
    expect(posted.map((message) => message.channel).sort()).toEqual(['C0LATE', 'C0LOST']);
    expect(posted.every((message) => /^Health of default/.test(message.text))).toBe(true);
    // Both are posted now: a later sweep has nothing to do, and nothing is posted twice.
    await state.admin.query(
      "UPDATE runs SET requeued_at = now() - interval '1 hour' WHERE id = ANY($1::uuid[])",
      [[lost.id, unposted.id]],
    );
    expect(await requeueStrandedRuns(service.runs, service.queues, STRANDED_RUN_SWEEP)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(posted).toHaveLength(2);
  });

  it('keeps tokens, the signing secret and database passwords out of every log line', () => {
    const output = logs.lines.join('');
    expect(output.length).toBeGreaterThan(0);
    expect(output).not.toContain(BOT_TOKEN);
    expect(output).not.toContain(SIGNING_SECRET);
    expect(output).not.toContain(new URL(state.url).password);
  });
});

describe('Slack bot on the PostgreSQL queue backend (no Redis)', () => {
  /** A bot in `all` mode on databases of its own, with no REDIS_URL. */
  const startWithoutRedis = async () => {
    const [state, target] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url),
    ]);
    const service = await startService({
      mode: 'all',
      config: loadServiceConfig(serviceEnv(state, target), { mode: 'all' }),
      logger: captureLogs().logger,
    });
    return { state, target, service };
  };

  it('runs a command end to end with nothing but Postgres', async () => {
    const { state, target, service } = await startWithoutRedis();
    try {
      expect(service.queues.kind).toBe('postgres');
      const posted: Posted[] = [];
      interceptPostMessage(posted);
      const response = await sendSlashCommand(service.port, { text: 'health default' });
      expect(response.json?.text).toBe('Running health check on default…');
      const message = await eventually(() => posted[0], 20_000);
      expect(message.text).toMatch(/^Health of default/);
      expect(blockViolations(message.blocks)).toEqual([]);
    } finally {
      await service.stop();
      await Promise.all([state.drop(), target.drop()]);
    }
  });

  it('stays up when its state database drops every connection (a failover), and serves the next command', async () => {
    const { state, target, service } = await startWithoutRedis();
    try {
      const posted: Posted[] = [];
      interceptPostMessage(posted);
      // Every session on the state database ends, as in a failover or a restart: the
      // queue's listeners, the workers' polls, the run store's idle connections.
      const { rows } = await target.admin.query<{ ended: number }>(
        `SELECT count(*)::int AS ended FROM pg_stat_activity, pg_terminate_backend(pid)
          WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [state.name],
      );
      expect(rows[0]!.ended).toBeGreaterThan(3);
      await untilReady(service.port);
      const response = await sendSlashCommand(service.port, { text: 'health default' });
      expect(response.json?.text).toBe('Running health check on default…');
      const message = await eventually(() => posted[0], 30_000);
      expect(message.text).toMatch(/^Health of default/);
    } finally {
      await service.stop();
      await Promise.all([state.drop(), target.drop()]);
    }
  });
});
