import { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { induceFaults } from '../../src/demo/faults.js';
import {
  JOBS,
  type JobItem,
  QUEUES,
  type ScheduledHealthDigestJob,
  type ScheduledHealthPostJob,
} from '../../src/jobs/catalog.js';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/queueBackend.js';
import { createLogger } from '../../src/logger.js';
import {
  healthSchedulers,
  resolveHealthSchedules,
  syncHealthSchedules,
} from '../../src/schedules/healthSchedules.js';
import {
  type ScheduledGroupOutcome,
  scheduledHealthProcessor,
} from '../../src/schedules/scheduledHealthJob.js';
import { blockViolations } from '../../src/slack/blockLimits.js';
import { postScheduledDigest } from '../../src/slack/posts/scheduledDigestPost.js';
import { postScheduledHealth } from '../../src/slack/posts/scheduledHealthPost.js';
import { RunStore } from '../../src/store/runs.js';
import { TargetPools } from '../../src/targets/pools.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import type { Target } from '../../src/targets/target.js';
import {
  captureLogs,
  eventually,
  interceptChatUpdate,
  interceptPermalinks,
  interceptPostMessage,
  type Posted,
} from '../support/botHarness.js';
import {
  createStateDatabase,
  createTestDatabase,
  type StateDatabase,
  type TestDatabase,
  testTarget,
} from '../support/databases.js';
import { BOT_TOKEN, interceptSlackOnly } from '../support/slack.js';

const [server] = inject('postgresServers');
const CHANNEL = 'CDIGEST';
/** Checks local to each test database: cluster-wide ones would see other test files' faults. */
const CHECKS = ['idle_in_transaction', 'duplicate_triggers', 'invalid_indexes'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interceptSlackOnly();

describe('scheduled health of many targets', () => {
  let state: StateDatabase;
  let dbs: TestDatabase[];
  let targets: Target[];
  const pools = new TargetPools();
  const enqueued: JobItem[] = [];
  const queues = { enqueue: async (item: JobItem) => void enqueued.push(item) } as unknown as QueueBackend;

  beforeAll(async () => {
    [state, ...dbs] = (await Promise.all([
      createStateDatabase(server!.url),
      ...[0, 1, 2].map(() => createTestDatabase(server!.url)),
    ])) as [StateDatabase, ...TestDatabase[]];
    targets = ['alpha', 'beta', 'gamma'].map((name, i) =>
      testTarget(dbs[i]!.url, {
        name,
        source: `targets.yml (targets.${name})`,
        thresholdOverrides: { 'idle_in_transaction.warn': '1s', 'idle_in_transaction.critical': '1s' },
      }),
    );
  });
  afterAll(async () => {
    await pools.closeAll();
    await Promise.all([state?.drop(), ...(dbs ?? []).map((db) => db.drop())]);
  });

  it('shares one scheduler among the targets of a channel, cron and zone', () => {
    const lone = testTarget(dbs[0]!.url, { name: 'lone', schedule: { channel: 'COTHER' } });
    const schedulers = healthSchedulers(
      resolveHealthSchedules([...targets, lone], { cron: '*/5 * * * *', tz: 'UTC', channel: CHANNEL }),
    );
    expect(schedulers).toEqual([
      {
        id: expect.stringMatching(/^scheduled-health-CDIGEST-[0-9a-f]{12}$/),
        data: { targets: ['alpha', 'beta', 'gamma'], channel: CHANNEL, group: expect.any(String) },
        cron: '*/5 * * * *',
        tz: 'UTC',
      },
      // Alone in its channel: a scheduler of its own, posting its report as before.
      {
        id: 'scheduled-health-lone',
        data: { target: 'lone', channel: 'COTHER' },
        cron: '*/5 * * * *',
        tz: 'UTC',
      },
    ]);
  });

  it('posts one digest of the targets that changed, once, and leaves unchanged ones out', async () => {
    const fire = scheduledHealthProcessor({
      db: state.pool,
      targets: new TargetRegistry(targets),
      pools,
      logger: createLogger({ level: 'silent' }),
      queues,
      health: { budgetMs: 10_000, evidenceLimit: 10, only: CHECKS },
    });
    const group = { targets: ['alpha', 'beta', 'gamma'], channel: CHANNEL, group: 'abcdef012345' };
    const decisions = (outcome: unknown) =>
      Object.fromEntries(
        (outcome as ScheduledGroupOutcome).targets.map((t) => [
          t.target,
          t.decision.post ? t.decision.reason : null,
        ]),
      );

    // alpha and beta have a session idle in transaction; gamma is healthy.
    const faults = await Promise.all([0, 1].map((i) => induceFaults(dbs[i]!.url, ['idle_in_transaction'])));
    let betaFault = faults[1];
    try {
      await sleep(1100); // past the 1 s threshold
      expect(decisions(await fire(group, { id: 'fire-1' } as never))).toEqual({
        alpha: 'changed',
        beta: 'changed',
        gamma: null,
      });
      expect(enqueued.map((item) => item.name)).toEqual(['scheduled-health-digest']);
      const digest = enqueued[0]!.data as ScheduledHealthDigestJob;
      expect(digest.channel).toBe(CHANNEL);
      expect(digest.items.map((item) => [item.kind, item.reason, item.changes.map((c) => c.check)])).toEqual([
        ['problem', 'changed', ['idle_in_transaction']],
        ['problem', 'changed', ['idle_in_transaction']],
      ]);

      // A retry of the same fire (a crash after the checks) queues the same digest, same runs.
      await fire(group, { id: 'fire-1' } as never);
      expect(enqueued[1]).toEqual(enqueued[0]);

      // Nothing changed: nothing is queued.
      enqueued.length = 0;
      expect(decisions(await fire(group, { id: 'fire-2' } as never))).toEqual({
        alpha: null,
        beta: null,
        gamma: null,
      });
      expect(enqueued).toEqual([]);

      // Only beta changes (its problem is gone): its all clear alone, as the usual report.
      await betaFault!.release();
      betaFault = undefined;
      expect(decisions(await fire(group, { id: 'fire-3' } as never))).toEqual({
        alpha: null,
        beta: 'cleared',
        gamma: null,
      });
      expect(enqueued.map((item) => item.name)).toEqual(['scheduled-health-report']);
      expect((enqueued[0]!.data as ScheduledHealthPostJob).kind).toBe('all-clear');

      // The digest of the first fire, posted: one message, each report in its thread, linked.
      const posted: Posted[] = [];
      interceptPostMessage(posted);
      interceptPermalinks();
      const updates = interceptChatUpdate();
      const deps = { db: state.pool, runs: new RunStore(state.pool), slack: new WebClient(BOT_TOKEN) };
      await postScheduledDigest(deps, digest);
      expect(posted.map((p) => [p.channel, p.threadTs ?? null])).toEqual([
        [CHANNEL, null],
        [CHANNEL, posted[0]!.ts],
        [CHANNEL, posted[0]!.ts],
      ]);
      expect(posted[0]!.text).toBe(':red_circle: *Scheduled check*: 2 targets changed (2 critical)');
      expect(posted.slice(1).map((p) => p.text)).toEqual([
        'Scheduled check: Health of alpha: CRITICAL (1 finding needs a look)',
        'Scheduled check: Health of beta: CRITICAL (1 finding needs a look)',
      ]);
      const update = await eventually(() => updates[0]);
      expect(update.ts).toBe(posted[0]!.ts);
      expect(update.blocks).toContain('*alpha* new *Sessions idle in transaction* (critical)');
      expect(update.blocks).toContain(`|report>`);
      expect(update.blocks).not.toContain('gamma');
      expect(blockViolations(JSON.parse(update.blocks))).toEqual([]);

      // Again, as a retry would: nothing is posted twice.
      await postScheduledDigest(deps, digest);
      expect(posted).toHaveLength(3);
    } finally {
      await Promise.all([faults[0]!.release(), betaFault?.release()]);
    }
  }, 60_000);
});

describe('scheduled digests through the queue', () => {
  let state: StateDatabase;
  let dbs: TestDatabase[];
  let queues: QueueBackend;
  const pools = new TargetPools();
  const logs = captureLogs();

  beforeAll(async () => {
    [state, ...dbs] = (await Promise.all([
      createStateDatabase(server!.url, 4),
      ...[0, 1].map(() => createTestDatabase(server!.url)),
    ])) as [StateDatabase, ...TestDatabase[]];
    queues = await createQueueBackend({ databaseUrl: state.url }, logs.logger);
  });
  afterAll(async () => {
    await queues?.close();
    await pools.closeAll();
    await Promise.all([state?.drop(), ...(dbs ?? []).map((db) => db.drop())]);
  });

  it('fires one job for two targets sharing a schedule and posts one message for both, once', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    interceptPermalinks();
    interceptChatUpdate();
    const targets = ['north', 'south'].map((name, i) =>
      testTarget(dbs[i]!.url, {
        name,
        thresholdOverrides: { 'idle_in_transaction.warn': '1s', 'idle_in_transaction.critical': '1s' },
        schedule: { cron: '*/1 * * * * *' },
      }),
    );
    const db = state.pool;
    const fire = scheduledHealthProcessor({
      db,
      targets: new TargetRegistry(targets),
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
    let fires = 0;
    queues.worker(
      QUEUES.diagnostics,
      async (job: Job) => {
        await fire(job.data, job);
        fires++;
      },
      { concurrency: 1 },
    );
    queues.worker(
      QUEUES.notifications,
      async (job: Job) => {
        if (job.name === JOBS.scheduledHealthDigest) await postScheduledDigest(slackDeps, job.data);
        else await postScheduledHealth(slackDeps, job.data);
      },
      { concurrency: 1 },
    );
    const faults = await Promise.all(dbs.map((db) => induceFaults(db.url, ['idle_in_transaction'])));
    try {
      await sleep(1100);
      const ids = await syncHealthSchedules(queues, targets, {
        cron: '0 9 * * *',
        tz: 'UTC',
        channel: CHANNEL,
      });
      expect(ids).toEqual([expect.stringMatching(/^scheduled-health-CDIGEST-[0-9a-f]{12}$/)]);
      await eventually(() => (posted.length >= 3 ? true : undefined), 20_000);
      const start = fires;
      await eventually(() => (fires >= start + 3 ? true : undefined), 20_000);
      const [digest, ...replies] = posted;
      expect(digest!.threadTs).toBeUndefined();
      expect(digest!.text).toBe(':red_circle: *Scheduled check*: 2 targets changed (2 critical)');
      expect(replies.map((reply) => [reply.threadTs, reply.text.match(/Health of (\w+)/)?.[1]])).toEqual([
        [digest!.ts, 'north'],
        [digest!.ts, 'south'],
      ]);
    } finally {
      await Promise.all(faults.map((fault) => fault.release()));
      await syncHealthSchedules(queues, [], { cron: '0 9 * * *', tz: 'UTC' });
    }
  }, 60_000);
});
