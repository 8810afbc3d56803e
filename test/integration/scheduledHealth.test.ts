import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebClient } from '@slack/web-api';
import { type Job, UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { induceFaults } from '../../src/demo/faults.js';
import type { Finding, HealthReport } from '../../src/health/types.js';
import { JOBS, QUEUES, type ScheduledHealthPostJob } from '../../src/jobs/catalog.js';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/queueBackend.js';
import { SCHEDULER_PREFIX, syncHealthSchedules } from '../../src/schedules/healthSchedules.js';
import {
  DEFAULT_REMIND_AFTER_MS,
  decideScheduledPost,
  decideScheduledRun,
  type ScheduledState,
} from '../../src/schedules/scheduledHealthDecision.js';
import {
  type ScheduledHealthOutcome,
  scheduledHealthProcessor,
} from '../../src/schedules/scheduledHealthJob.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import { blockViolations } from '../../src/slack/blockLimits.js';
import { postScheduledHealth } from '../../src/slack/posts/scheduledHealthPost.js';
import { RunStore } from '../../src/store/runs.js';
import { ScheduledHealthStore } from '../../src/store/scheduledHealth.js';
import { TargetPools } from '../../src/targets/pools.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import type { Target } from '../../src/targets/target.js';
import { readTargetsFile } from '../../src/targets/targetsFile.js';
import { captureLogs, eventually, interceptPostMessage, type Posted } from '../support/botHarness.js';
import {
  createStateDatabase,
  createTestDatabase,
  type StateDatabase,
  type TestDatabase,
  testTarget,
} from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import { BOT_TOKEN, interceptSlackOnly } from '../support/slack.js';

const [server] = inject('postgresServers');
const CHANNEL = 'CSCHEDULED';
/** Checks local to the test database: cluster-wide ones would see other test files' faults. */
const CHECKS = ['idle_in_transaction', 'duplicate_triggers', 'invalid_indexes'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ContextBlock {
  type: 'context';
  elements: Array<{ text: string }>;
}
interface ActionsBlock {
  type: 'actions';
  elements: Array<{ action_id: string; value: string; style?: string }>;
}
const contextOf = (message: Posted) =>
  message.blocks
    .filter((block) => block.type === 'context')
    .map((block) => (block as ContextBlock).elements.map((element) => element.text).join(' '));
const buttonsOf = (message: Posted) =>
  (message.blocks.find((block) => block.type === 'actions') as ActionsBlock | undefined)?.elements ?? [];

interceptSlackOnly();

describe.skipIf(!redisAvailable())('scheduled health checks on Redis', () => {
  let state: StateDatabase;
  let shopDb: TestDatabase;
  let redis: TestRedis;
  let queues: QueueBackend;
  let db: pg.Pool;
  let runs: RunStore;
  const pools = new TargetPools();
  const logs = captureLogs();
  const fires: Array<{ target: string } & ScheduledHealthOutcome> = [];
  let shop: Target;

  beforeAll(async () => {
    [state, shopDb, redis] = await Promise.all([
      createStateDatabase(server!.url, 4),
      createTestDatabase(server!.url),
      startTestRedis(),
    ]);
    db = state.pool;
    runs = new RunStore(db);
    queues = await createQueueBackend({ redisUrl: redis.url, databaseUrl: state.url }, logs.logger);
    shop = testTarget(shopDb.url, {
      name: 'shop',
      source: 'targets.yml (targets.shop)',
      thresholdOverrides: { 'idle_in_transaction.warn': '1s', 'idle_in_transaction.critical': '1s' },
      // Every second, with the seconds field, in a zone that is not UTC.
      schedule: { cron: '*/1 * * * * *', tz: 'Europe/Berlin' },
    });
    // The wiring the service does: scheduled-health fires on diagnostics, posts on notifications.
    const scheduled = scheduledHealthProcessor({
      db,
      targets: new TargetRegistry([shop]),
      pools,
      logger: logs.logger,
      queues,
      health: { budgetMs: 10_000, evidenceLimit: 10, only: CHECKS },
    });
    const slackDeps = {
      slack: new WebClient(BOT_TOKEN, { retryConfig: { retries: 0 } }),
      db,
      runs,
    };
    const post = (data: ScheduledHealthPostJob) => postScheduledHealth(slackDeps, data);
    queues.worker(
      QUEUES.diagnostics,
      async (job: Job) => {
        if (job.name !== JOBS.scheduledHealth) throw new UnrecoverableError(`unexpected job ${job.name}`);
        fires.push({ target: job.data.target, ...(await scheduled(job.data, job)) });
      },
      { concurrency: 1 },
    );
    queues.worker(
      QUEUES.notifications,
      async (job: Job) => {
        if (job.name !== JOBS.scheduledHealthReport)
          throw new UnrecoverableError(`unexpected job ${job.name}`);
        await post(job.data);
      },
      { concurrency: 1 },
    );
  });
  afterAll(async () => {
    await queues?.close();
    await pools.closeAll();
    await redis?.stop();
    await Promise.all([state?.drop(), shopDb?.drop()]);
  });

  const shopFires = () => fires.filter((fire) => fire.target === 'shop');
  const moreFires = async (count: number) => {
    const start = shopFires().length;
    await eventually(() => (shopFires().length >= start + count ? true : undefined), 20_000);
  };

  it('posts a critical finding once, with Declare incident, then one all clear, then nothing', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const faults = await induceFaults(shopDb.url, ['idle_in_transaction']);
    try {
      await sleep(1100); // past the 1 s threshold before the first run looks
      const ids = await syncHealthSchedules(queues, [shop], {
        cron: '0 9 * * *',
        tz: 'UTC',
        channel: CHANNEL,
      });
      expect(ids).toEqual(['scheduled-health-shop']);
      const scheduler = await queues.queue(QUEUES.diagnostics).getJobScheduler('scheduled-health-shop');
      expect(scheduler).toMatchObject({
        pattern: '*/1 * * * * *',
        tz: 'Europe/Berlin',
        name: 'scheduled-health',
      });

      const report = await eventually(() => posted[0], 20_000);
      expect(report.channel).toBe(CHANNEL);
      expect(report.text).toBe('Scheduled check: Health of shop: CRITICAL (1 finding needs a look)');
      expect(blockViolations(report.blocks)).toEqual([]);
      expect(report.blocks[0]).toMatchObject({ type: 'header', text: { text: 'Health of shop: CRITICAL' } });
      expect(contextOf(report)[0]).toContain('*Scheduled check* · changed since the last scheduled run');
      expect(contextOf(report)[0]).toContain('new *Sessions idle in transaction* (critical)');
      const declare = buttonsOf(report).find((button) => button.action_id === ACTIONS.declareIncident);
      expect(declare).toBeDefined();
      expect(declare!.value.length).toBeLessThan(2000);
      expect(JSON.parse(declare!.value)).toEqual({
        severity: 'P1',
        title: 'shop: Sessions idle in transaction',
        target: 'shop',
      });
      // The report is a run like any other, so Details and Re-run work on it.
      const run = await eventually(async () => {
        const [latest] = await runs.recent(1);
        return latest?.postedTs ? latest : undefined;
      });
      expect(run).toMatchObject({
        target: 'shop',
        requestedBy: 'scheduler',
        channelId: CHANNEL,
        status: 'done',
      });

      // The same finding persists: the scheduler keeps firing, nobody is told again.
      await moreFires(3);
      expect(posted).toHaveLength(1);
      expect(shopFires().filter((fire) => fire.decision.post)).toHaveLength(1);
      expect(shopFires().at(-1)?.decision).toEqual({ post: false, reason: 'unchanged' });
    } finally {
      await faults.release();
    }

    const clear = await eventually(() => posted[1], 20_000);
    expect(clear.text).toBe('All clear: the scheduled health check of shop is OK again');
    expect(clear.blocks[0]).toMatchObject({ type: 'header', text: { text: 'Health of shop: OK' } });
    expect(contextOf(clear)[0]).toContain('all clear');
    expect(contextOf(clear)[0]).toContain('*Sessions idle in transaction* critical → ok');
    expect(buttonsOf(clear).map((button) => button.action_id)).toEqual([ACTIONS.healthRerun]);
    expect(blockViolations(clear.blocks)).toEqual([]);

    await moreFires(3);
    expect(posted).toHaveLength(2);
    expect(shopFires().at(-1)?.decision).toEqual({ post: false, reason: 'healthy' });
    const { rows } = await db.query(
      `SELECT check_id, status FROM scheduled_health WHERE target = 'shop' ORDER BY check_id`,
    );
    expect(rows).toEqual([
      { check_id: 'duplicate_triggers', status: 'ok' },
      { check_id: 'idle_in_transaction', status: 'ok' },
      { check_id: 'invalid_indexes', status: 'ok' },
      { check_id: 'reachability', status: 'ok' },
    ]);

    await syncHealthSchedules(queues, [], { cron: '0 9 * * *', tz: 'UTC', channel: CHANNEL });
    expect(await queues.queue(QUEUES.diagnostics).getJobScheduler('scheduled-health-shop')).toBeUndefined();
  }, 90_000);

  it('syncs schedulers idempotently and removes those of targets no longer configured', async () => {
    const queue = queues.queue(QUEUES.diagnostics);
    const snapshot = async () =>
      (await queue.getJobSchedulers(0, -1, true))
        .map((s) => ({ key: s.key, pattern: s.pattern, tz: s.tz, next: s.next, data: s.template?.data }))
        .sort((a, b) => a.key.localeCompare(b.key));
    // Someone else's scheduler on the same queue is not ours to remove.
    await queue.upsertJobScheduler('nightly-report', { pattern: '0 0 1 1 *' }, { name: 'other' });
    const defaults = { cron: '0 9 * * *', tz: 'UTC', channel: CHANNEL };
    const alpha = testTarget(shopDb.url, { name: 'alpha' });
    const beta = testTarget(shopDb.url, {
      name: 'beta',
      schedule: { cron: '30 6 * * 1-5', tz: 'America/New_York', channel: 'COTHER' },
    });
    const gamma = testTarget(shopDb.url, { name: 'gamma', schedule: { enabled: false } });

    const first = await syncHealthSchedules(queues, [alpha, beta, gamma], defaults);
    expect(first).toEqual(['scheduled-health-alpha', 'scheduled-health-beta']);
    const before = await snapshot();
    expect(before).toEqual([
      {
        key: 'nightly-report',
        pattern: '0 0 1 1 *',
        tz: undefined,
        next: expect.any(Number),
        data: undefined,
      },
      {
        key: 'scheduled-health-alpha',
        pattern: '0 9 * * *',
        tz: 'UTC',
        next: expect.any(Number),
        data: { target: 'alpha', channel: CHANNEL },
      },
      {
        key: 'scheduled-health-beta',
        pattern: '30 6 * * 1-5',
        tz: 'America/New_York',
        next: expect.any(Number),
        data: { target: 'beta', channel: 'COTHER' },
      },
    ]);
    // 06:30 in New York is 10:30 or 11:30 UTC, on a weekday.
    const betaNext = new Date(before[2]!.next!);
    expect([10, 11]).toContain(betaNext.getUTCHours());
    expect(betaNext.getUTCMinutes()).toBe(30);
    const delayedBefore = await queue.getDelayedCount();

    // A second boot: same schedulers, same next runs, no extra delayed jobs.
    expect(await syncHealthSchedules(queues, [alpha, beta, gamma], defaults)).toEqual(first);
    expect(await snapshot()).toEqual(before);
    expect(await queue.getDelayedCount()).toBe(delayedBefore);

    // beta dropped from configuration, alpha's cron changed.
    const alphaLater = { ...alpha, schedule: { cron: '0 7 * * *' } };
    expect(await syncHealthSchedules(queues, [alphaLater, gamma], defaults)).toEqual([
      'scheduled-health-alpha',
    ]);
    const after = await snapshot();
    expect(after.map((s) => s.key)).toEqual(['nightly-report', 'scheduled-health-alpha']);
    expect(after[1]).toMatchObject({ pattern: '0 7 * * *', tz: 'UTC' });

    // No channel anywhere: no schedules at all.
    expect(await syncHealthSchedules(queues, [alpha], { cron: '0 9 * * *', tz: 'UTC' })).toEqual([]);
    expect((await snapshot()).map((s) => s.key)).toEqual(['nightly-report']);
    await queue.removeJobScheduler('nightly-report');
  });

  it('rejects a bad cron or time zone naming the target, the key and the value', async () => {
    const defaults = { cron: '0 9 * * *', tz: 'UTC', channel: CHANNEL };
    const bad = (schedule: Target['schedule']) =>
      syncHealthSchedules(
        queues,
        [testTarget(shopDb.url, { name: 'bad', source: 'targets.yml (targets.bad)', schedule })],
        defaults,
      );
    await expect(bad({ cron: '61 * * * *' })).rejects.toThrow(
      'target "bad" (targets.yml (targets.bad)) schedule.cron: "61 * * * *" is not a cron pattern: Constraint error, got value 61 expected range 0-59',
    );
    await expect(bad({ cron: '0 9 * *' })).rejects.toThrow(
      '"0 9 * *" is not a cron pattern: it has 4 fields, expected 5',
    );
    await expect(bad({ tz: 'Mars/Olympus' })).rejects.toThrow(
      'target "bad" (targets.yml (targets.bad)) schedule.tz: "Mars/Olympus" is not an IANA time zone',
    );
    await expect(
      syncHealthSchedules(queues, [], { cron: 'every morning', tz: 'Berlin', channel: CHANNEL }),
    ).rejects.toThrow(/default schedule cron: "every morning".*\n.*default schedule time zone: "Berlin"/);
    const keys = (await queues.queue(QUEUES.diagnostics).getJobSchedulers(0, -1)).map((s) => s.key);
    expect(keys.filter((key) => key.startsWith(SCHEDULER_PREFIX))).toEqual([]);
  });
});

describe('health schedule configuration', () => {
  it('reads HEALTH_SCHEDULE* with defaults and names a bad variable', () => {
    const healthScheduleDefaults = (env: NodeJS.ProcessEnv) =>
      loadServiceConfig({ SLACK_BOT_TOKEN: 'xoxb-test', ...env }, { mode: 'worker' }).healthSchedule;
    expect(healthScheduleDefaults({})).toEqual({ cron: '0 9 * * *', tz: 'UTC' });
    expect(
      healthScheduleDefaults({
        HEALTH_SCHEDULE_CHANNEL: 'C0OPS',
        HEALTH_SCHEDULE: '*/15 8-18 * * 1-5',
        HEALTH_SCHEDULE_TZ: 'Europe/Berlin',
      }),
    ).toEqual({ cron: '*/15 8-18 * * 1-5', tz: 'Europe/Berlin', channel: 'C0OPS' });
    expect(() => healthScheduleDefaults({ HEALTH_SCHEDULE: '0 25 * * *' })).toThrow(
      'HEALTH_SCHEDULE: "0 25 * * *" is not a cron pattern: Constraint error, got value 25 expected range 0-23',
    );
    expect(() => healthScheduleDefaults({ HEALTH_SCHEDULE_TZ: 'Europe/Atlantis' })).toThrow(
      'HEALTH_SCHEDULE_TZ: "Europe/Atlantis" is not an IANA time zone',
    );
    expect(() => healthScheduleDefaults({ HEALTH_SCHEDULE_CHANNEL: '#ops' })).toThrow(
      'HEALTH_SCHEDULE_CHANNEL: "#ops" must be a Slack channel id',
    );
  });

  it('reads a target’s schedule from the targets file and rejects unknown keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedules-'));
    const file = join(dir, 'targets.yml');
    const env = { PROD_URL: 'postgres://monitor@db.example.com/postgres' };
    writeFileSync(
      file,
      'targets:\n  prod:\n    url_env: PROD_URL\n    schedule:\n      cron: "0 8 * * 1-5"\n      tz: America/Chicago\n      channel: C0PROD\n  dev:\n    url_env: PROD_URL\n',
    );
    const { targets } = readTargetsFile(file, (name) => env[name as keyof typeof env]);
    expect(targets.find((t) => t.name === 'prod')?.schedule).toEqual({
      cron: '0 8 * * 1-5',
      tz: 'America/Chicago',
      channel: 'C0PROD',
    });
    expect(targets.find((t) => t.name === 'dev')?.schedule).toBeUndefined();
    writeFileSync(file, 'targets:\n  prod:\n    url_env: PROD_URL\n    schedule:\n      crom: "0 8 * * *"\n');
    expect(() => readTargetsFile(file, (name) => env[name as keyof typeof env])).toThrow(
      'targets.prod.schedule: unknown key "crom"',
    );
  });
});

describe('deciding what a scheduled run posts', () => {
  const now = new Date('2026-03-02T09:00:00Z');
  const hours = (n: number) => new Date(now.getTime() - n * 3600_000);
  const finding = (id: string, status: Finding['status']): Finding => ({
    id,
    title: id,
    status,
    summary: `${id} is ${status}`,
    threshold: null,
    evidence: [],
    evidenceTotal: 0,
    remediation: null,
    durationMs: 1,
  });
  const report = (
    status: HealthReport['status'],
    findings: Finding[],
    unreachable?: string,
  ): HealthReport => ({
    target: 'prod',
    status,
    startedAt: now.toISOString(),
    durationMs: 5,
    serverVersion: '18.0',
    findings,
    ...(unreachable ? { unreachable } : {}),
  });
  const stateOf = (
    statuses: Record<string, Finding['status']>,
    problemSince: Date | null,
    lastPostedAt: Date | null,
  ): ScheduledState => ({
    checks: new Map(
      Object.entries<Finding['status']>({ reachability: 'ok', ...statuses }).map(([k, status]) => [
        k,
        { status },
      ]),
    ),
    problemSince,
    lastPostedAt,
  });

  it('stays silent on a healthy first run and on an unchanged problem within a day', () => {
    expect(decideScheduledPost(undefined, report('ok', [finding('a', 'ok')]), now)).toEqual({
      post: false,
      reason: 'healthy',
    });
    const persisting = stateOf({ a: 'critical' }, hours(30), hours(23));
    expect(decideScheduledPost(persisting, report('critical', [finding('a', 'critical')]), now)).toEqual({
      post: false,
      reason: 'unchanged',
    });
  });

  it('reminds of a persisting problem once the last post is a day old', () => {
    const persisting = stateOf({ a: 'warn' }, hours(50), hours(24));
    expect(decideScheduledPost(persisting, report('warn', [finding('a', 'warn')]), now)).toMatchObject({
      post: true,
      kind: 'problem',
      reason: 'reminder',
      changes: [],
      problemSince: hours(50).toISOString(),
    });
    expect(DEFAULT_REMIND_AFTER_MS).toBe(24 * 3600_000);
  });

  it('posts a status change, a new problem, and a problem nobody was told about', () => {
    const posted = stateOf({ a: 'warn', b: 'ok', c: 'skipped' }, hours(2), hours(2));
    const worse = report('critical', [finding('a', 'critical'), finding('b', 'ok'), finding('c', 'ok')]);
    expect(decideScheduledPost(posted, worse, now)).toMatchObject({
      reason: 'changed',
      changes: [{ check: 'a', from: 'warn', to: 'critical' }],
    });
    const fresh = report('warn', [finding('a', 'warn'), finding('b', 'warn')]);
    expect(decideScheduledPost(posted, fresh, now)).toMatchObject({
      reason: 'changed',
      changes: [{ check: 'b', from: 'ok', to: 'warn' }],
    });
    const untold = stateOf({ a: 'warn' }, null, null);
    expect(decideScheduledPost(untold, report('warn', [finding('a', 'warn')]), now)).toMatchObject({
      post: true,
      reason: 'unannounced',
    });
  });

  it('treats an unreachable target as a critical change, once, and its return as the all clear', () => {
    const posted = stateOf({ a: 'warn' }, hours(1), hours(1));
    const down = report('unreachable', [], 'connection refused');
    expect(decideScheduledPost(posted, down, now)).toMatchObject({
      post: true,
      reason: 'changed',
      changes: [{ check: 'reachability', from: 'ok', to: 'critical' }],
    });
    const stillDown = stateOf({ a: 'warn', reachability: 'critical' }, hours(1), hours(1));
    expect(decideScheduledPost(stillDown, down, now)).toEqual({ post: false, reason: 'unchanged' });
    expect(decideScheduledPost(stillDown, report('ok', [finding('a', 'ok')]), now)).toMatchObject({
      post: true,
      kind: 'all-clear',
      changes: [
        { check: 'reachability', from: 'critical', to: 'ok' },
        { check: 'a', from: 'warn', to: 'ok' },
      ],
    });
  });
});

describe('scheduled state in Postgres', () => {
  let state: StateDatabase;
  let db: pg.Pool;
  beforeAll(async () => {
    state = await createStateDatabase(server!.url, 2);
    db = state.pool;
  });
  afterAll(() => state?.drop());

  const critical = (startedAt: string): HealthReport => ({
    target: 'prod',
    status: 'critical',
    startedAt,
    durationMs: 5,
    serverVersion: '18.0',
    findings: [
      {
        id: 'idle_in_transaction',
        title: 'Sessions idle in transaction',
        status: 'critical',
        summary: '2 sessions',
        threshold: null,
        evidence: [],
        evidenceTotal: 0,
        remediation: null,
        durationMs: 1,
      },
    ],
  });

  it('replays the decision of a retried fire and ignores a fire that finishes late', async () => {
    const recordScheduledRun = (report: HealthReport, fire: string, now: Date) =>
      new ScheduledHealthStore(db).record(report, fire, now, (stored) =>
        decideScheduledRun(stored, report, fire, now),
      );
    const t0 = new Date('2026-03-02T09:00:00Z');
    const first = await recordScheduledRun(critical(t0.toISOString()), 'repeat:x:1', t0);
    expect(first).toMatchObject({ post: true, reason: 'changed' });
    // The same fire again (a stalled job picked up again): same decision, not "unchanged".
    expect(await recordScheduledRun(critical(t0.toISOString()), 'repeat:x:1', t0)).toEqual(first);
    const t1 = new Date(t0.getTime() + 60_000);
    expect(await recordScheduledRun(critical(t1.toISOString()), 'repeat:x:2', t1)).toEqual({
      post: false,
      reason: 'unchanged',
    });
    // A fire that started before the last one recorded says nothing new.
    expect(await recordScheduledRun(critical(t0.toISOString()), 'repeat:x:0', t1)).toEqual({
      post: false,
      reason: 'stale',
    });
    const { rows } = await db.query(
      `SELECT t.problem_since, h.status, h.first_seen, h.last_seen
         FROM scheduled_health_targets t JOIN scheduled_health h USING (target)
        WHERE h.check_id = 'idle_in_transaction'`,
    );
    expect(rows).toEqual([{ problem_since: t0, status: 'critical', first_seen: t0, last_seen: t1 }]);
  });
});

describe('scheduled health checks on the PostgreSQL queue backend', () => {
  let state: StateDatabase;
  let shopDb: TestDatabase;
  let queues: QueueBackend;
  let db: pg.Pool;
  const pools = new TargetPools();
  const logs = captureLogs();
  const fires: ScheduledHealthOutcome[] = [];

  beforeAll(async () => {
    [state, shopDb] = await Promise.all([
      createStateDatabase(server!.url, 4),
      createTestDatabase(server!.url),
    ]);
    db = state.pool;
    queues = await createQueueBackend({ databaseUrl: state.url }, logs.logger);
  });
  afterAll(async () => {
    await queues?.close();
    await pools.closeAll();
    await Promise.all([state?.drop(), shopDb?.drop()]);
  });

  it('fires, posts a persisting problem once and syncs idempotently without Redis', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const shop = testTarget(shopDb.url, {
      name: 'shop',
      thresholdOverrides: { 'idle_in_transaction.warn': '1s', 'idle_in_transaction.critical': '1s' },
      schedule: { cron: '*/1 * * * * *' },
    });
    const scheduled = scheduledHealthProcessor({
      db,
      targets: new TargetRegistry([shop]),
      pools,
      logger: logs.logger,
      queues,
      health: { budgetMs: 10_000, evidenceLimit: 10, only: CHECKS },
    });
    const slackDeps = {
      slack: new WebClient(BOT_TOKEN, { retryConfig: { retries: 0 } }),
      db,
      runs: new RunStore(db),
    };
    const post = (data: ScheduledHealthPostJob) => postScheduledHealth(slackDeps, data);
    queues.worker(QUEUES.diagnostics, async (job: Job) => void fires.push(await scheduled(job.data, job)), {
      concurrency: 1,
    });
    queues.worker(QUEUES.notifications, async (job: Job) => post(job.data), { concurrency: 1 });
    const faults = await induceFaults(shopDb.url, ['idle_in_transaction']);
    try {
      await sleep(1100);
      const defaults = { cron: '0 9 * * *', tz: 'Asia/Tokyo', channel: CHANNEL };
      expect(await syncHealthSchedules(queues, [shop], defaults)).toEqual(['scheduled-health-shop']);
      const queue = queues.queue(QUEUES.diagnostics);
      const [before] = await queue.getJobSchedulers(0, -1);
      expect(before).toMatchObject({
        key: 'scheduled-health-shop',
        pattern: '*/1 * * * * *',
        tz: 'Asia/Tokyo',
      });
      expect(await syncHealthSchedules(queues, [shop], defaults)).toEqual(['scheduled-health-shop']);
      expect((await queue.getJobSchedulers(0, -1)).map((s) => s.key)).toEqual(['scheduled-health-shop']);

      const report = await eventually(() => posted[0], 20_000);
      expect(report.text).toMatch(/^Scheduled check: Health of shop: CRITICAL/);
      const start = fires.length;
      await eventually(() => (fires.length >= start + 3 ? true : undefined), 20_000);
      expect(posted).toHaveLength(1);
    } finally {
      await faults.release();
      await syncHealthSchedules(queues, [], { cron: '0 9 * * *', tz: 'UTC' });
    }
    expect(await queues.queue(QUEUES.diagnostics).getJobSchedulers(0, -1)).toEqual([]);
  }, 60_000);
});
