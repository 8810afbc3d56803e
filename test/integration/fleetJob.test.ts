import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fleetHealthJobProcessor } from '../../src/health/fleetJob.js';
import { startFleetHealth } from '../../src/health/fleetRunStarter.js';
import type { HealthReport } from '../../src/health/types.js';
import type { JobItem } from '../../src/jobs/catalog.js';
import type { QueueBackend } from '../../src/jobs/queueBackend.js';
import { createLogger } from '../../src/logger.js';
import { requeueStrandedFleets } from '../../src/service/strandedRuns.js';
import { RunStore } from '../../src/store/runs.js';
import { TargetPools } from '../../src/targets/pools.js';
import { loadTargetRegistry } from '../../src/targets/registry.js';
import { captureLogs } from '../support/botHarness.js';
import {
  createStateDatabase,
  createTestDatabase,
  type StateDatabase,
  type TestDatabase,
} from '../support/databases.js';
import { fleetTargetsEnv } from '../support/fleet.js';

const [server] = inject('postgresServers');

describe('the fleet health job', () => {
  let state: StateDatabase;
  let dbs: TestDatabase[];
  beforeAll(async () => {
    [state, ...dbs] = (await Promise.all([
      createStateDatabase(server!.url),
      ...[0, 1, 2].map(() => createTestDatabase(server!.url, { demoSchema: false })),
    ])) as [StateDatabase, ...TestDatabase[]];
  });
  afterAll(async () => {
    await Promise.all([state?.drop(), ...(dbs ?? []).map((db) => db.drop())]);
  });

  it('resumes after a crash with the targets not checked yet, and queues the summary of all', async () => {
    const env = fleetTargetsEnv(dbs);
    const targets = loadTargetRegistry({ targetsFile: env.TARGETS_FILE }, (name) => env[name]);
    const runs = new RunStore(state.pool);
    const recorded = await runs.createHealthRuns(
      targets.names().map((target) => ({ target, requestedBy: 'U0ONCALL' })),
    );
    const runIds = recorded.map(({ run }) => run.id);
    const enqueued: JobItem[] = [];
    const queues = {
      enqueue: async (item: JobItem) => {
        enqueued.push(item);
      },
    } as unknown as QueueBackend;
    const checked: string[] = [];
    // The first attempt dies when saving billing's report, as a worker killed there would.
    let crash = true;
    const crashing = Object.create(runs, {
      saveReport: {
        value: async (id: string, report: HealthReport) => {
          checked.push(report.target);
          if (crash && report.target === 'billing') throw new Error('worker killed');
          return runs.saveReport(id, report);
        },
      },
    }) as RunStore;
    const logs = captureLogs();
    const processor = fleetHealthJobProcessor({
      runs: crashing,
      targets,
      pools: new TargetPools(),
      queues,
      logger: logs.logger,
      health: { budgetMs: 10_000, evidenceLimit: 5 },
      concurrency: 1,
      connectionBudget: 100,
    });
    const job = { runIds, channel: 'C0OPS', label: 'all targets' };
    await expect(processor(job)).rejects.toThrow('worker killed');
    expect(enqueued).toEqual([]);
    const firstTry = [...checked];
    expect(firstTry).toEqual(['shop', 'billing']);
    const resuming = () => logs.lines.filter((line) => line.includes('resuming fleet run'));
    // The first attempt is a new run, not a resumed one.
    expect(resuming()).toEqual([]);

    crash = false;
    checked.length = 0;
    await processor(job);
    // shop's report was kept; only the rest are checked again.
    expect(checked).toEqual(['billing', 'reports', 'gone']);
    expect(resuming().map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'resuming fleet run all targets: 3 of 4 targets left',
        left: 3,
      }),
    ]);
    expect(enqueued).toEqual([{ name: 'fleet-summary', data: { ...job, pace: '1 at a time' } }]);
    const stored = await runs.getMany(runIds);
    expect(
      Object.fromEntries(stored.map((run) => [run.target, [run.status, run.report?.status]])),
    ).toMatchObject({
      shop: ['done', expect.any(String)],
      billing: ['done', expect.any(String)],
      reports: ['done', expect.any(String)],
      gone: ['done', 'unreachable'],
    });
  });

  it('queues a fleet whose job was lost again, then its summary, until the summary is posted', async () => {
    const env = fleetTargetsEnv(dbs);
    const targets = loadTargetRegistry({ targetsFile: env.TARGETS_FILE }, (name) => env[name]);
    const runs = new RunStore(state.pool);
    const ensured: JobItem[] = [];
    // The fleet job is accepted and then lost, as with a Redis restarted empty.
    const queues = {
      enqueue: async () => undefined,
      ping: async () => undefined,
      ensure: async (item: JobItem) => {
        ensured.push(item);
        return true;
      },
    } as unknown as QueueBackend;
    const started = await startFleetHealth(
      { runs, queues, targets, logger: createLogger({ level: 'silent' }) },
      {
        selector: { kind: 'tag', tag: 'production' },
        requestedBy: 'U0ONCALL',
        channelId: 'C0FLEET',
        idempotencyKey: `lost-${Date.now()}`,
      },
    );
    expect(started.outcome).toBe('queued');
    const sweep = { quietSeconds: 0, windowSeconds: 3600 };
    const ours = (item: JobItem) => (item.data as { channel: string }).channel === 'C0FLEET';
    await requeueStrandedFleets(runs, queues, sweep);
    const [check] = ensured.filter(ours);
    expect(check).toMatchObject({
      name: 'fleet-health',
      data: { channel: 'C0FLEET', label: 'tag:production' },
    });
    const runIds = (check!.data as { runIds: string[] }).runIds;
    expect(runIds).toHaveLength(2);

    // Checked (by the requeued job), but the summary job was lost too: the summary is queued.
    for (const id of runIds) await runs.markFailed([id], 'checked elsewhere');
    ensured.length = 0;
    await requeueStrandedFleets(runs, queues, sweep);
    expect(ensured.filter(ours)).toEqual([
      { name: 'fleet-summary', data: { runIds, channel: 'C0FLEET', label: 'tag:production' } },
    ]);

    await runs.markFleetPosted(runIds);
    ensured.length = 0;
    await requeueStrandedFleets(runs, queues, sweep);
    expect(ensured.filter(ours)).toEqual([]);
  });
});
