import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runHealthCheck } from '../../src/health/engine.js';
import { fleetHealthJobProcessor } from '../../src/health/fleetJob.js';
import type { JobItem } from '../../src/jobs/catalog.js';
import type { QueueBackend } from '../../src/jobs/queueBackend.js';
import { createLogger } from '../../src/logger.js';
import { RunStore } from '../../src/store/runs.js';
import { ConnectionBudget } from '../../src/targets/connectionBudget.js';
import { TargetPools } from '../../src/targets/pools.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import { BOT_APPLICATION_NAME, type Target } from '../../src/targets/target.js';
import {
  createStateDatabase,
  createTestDatabase,
  type StateDatabase,
  type TestDatabase,
  testTarget,
} from '../support/databases.js';

const [server] = inject('postgresServers');
const logger = createLogger({ level: 'silent' });
/** Checks local to each database, so a run is short and sees only its own database. */
const CHECKS = ['duplicate_triggers', 'invalid_indexes', 'sequence_exhaustion'];

/**
 * The bot's connections to `databases`, sampled every few milliseconds while `work` runs:
 * the most seen at once, as the server counts them (other test files' sessions are on other
 * databases and left out).
 */
async function mostConnections(databases: string[], work: () => Promise<unknown>): Promise<number> {
  const probe = new pg.Client({ connectionString: server!.url, application_name: 'budget-test-probe' });
  await probe.connect();
  let most = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      const { rows } = await probe.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = ANY($2)`,
        [BOT_APPLICATION_NAME, databases],
      );
      most = Math.max(most, rows[0]!.n);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    await work();
  } finally {
    running = false;
    await sampling;
    await probe.end();
  }
  return most;
}

describe('the target connection budget', () => {
  let state: StateDatabase;
  let dbs: TestDatabase[];
  beforeAll(async () => {
    [state, ...dbs] = (await Promise.all([
      createStateDatabase(server!.url),
      ...[0, 1, 2, 3].map(() => createTestDatabase(server!.url, { demoSchema: false })),
    ])) as [StateDatabase, ...TestDatabase[]];
  });
  afterAll(async () => {
    await Promise.all([state?.drop(), ...(dbs ?? []).map((db) => db.drop())]);
  });

  /** Two targets per database, pool_max 2: a fleet of eight wanting sixteen connections. */
  const fleet = (): Target[] =>
    dbs.flatMap((db, i) =>
      ['a', 'b'].map((suffix) =>
        testTarget(db.url, {
          name: `t${i}${suffix}`,
          settings: { ...testTarget(db.url).settings, poolMax: 2 },
        }),
      ),
    );

  async function fleetRun(budget: ConnectionBudget, concurrency: number) {
    const targets = fleet();
    const runs = new RunStore(state.pool);
    const recorded = await runs.createHealthRuns(
      targets.map((target) => ({ target: target.name, requestedBy: 'U0ONCALL' })),
    );
    const enqueued: JobItem[] = [];
    const queues = { enqueue: async (item: JobItem) => void enqueued.push(item) } as unknown as QueueBackend;
    const pools = new TargetPools(logger, { budget });
    const health = { budgetMs: 20_000, evidenceLimit: 5, only: CHECKS };
    const processor = fleetHealthJobProcessor({
      runs,
      targets: new TargetRegistry(targets),
      pools,
      queues,
      logger,
      health,
      concurrency,
      connectionBudget: budget.size,
    });
    const runIds = recorded.map(({ run }) => run.id);
    const most = await mostConnections(
      dbs.map((db) => db.name),
      () => processor({ runIds, channel: 'C0OPS', label: 'all targets' }),
    );
    await pools.closeAll();
    return { most, stored: await runs.getMany(runIds), enqueued };
  }

  it('keeps a fleet wider than the budget within it, and its reports say who waited', async () => {
    const budget = new ConnectionBudget(3);
    const { most, stored, enqueued } = await fleetRun(budget, 8);
    expect(most).toBeLessThanOrEqual(3);
    expect(budget.peakInUse).toBeLessThanOrEqual(3);
    expect(budget.inUse).toBe(0);
    expect(stored.map((run) => [run.status, run.report?.status])).toEqual(
      Array.from({ length: 8 }, () => ['done', 'ok']),
    );
    // Eight targets at once with three slots: at least five waited, and their reports say so.
    expect(stored.filter((run) => (run.report?.connectionWaitMs ?? 0) > 0).length).toBeGreaterThanOrEqual(5);
    expect(enqueued.map((item) => item.name)).toEqual(['fleet-summary']);
    // The summary says the figure that held, not FLEET_CONCURRENCY's 8.
    expect(enqueued[0]?.data).toMatchObject({ pace: 'at most 3 at a time: TARGET_CONNECTION_BUDGET' });
  });

  it('never deadlocks, even with one slot for a fleet of pools wanting two each', async () => {
    const budget = new ConnectionBudget(1);
    const { most, stored } = await fleetRun(budget, 4);
    expect(most).toBeLessThanOrEqual(1);
    expect(budget.peakInUse).toBe(1);
    expect(stored.every((run) => run.status === 'done' && run.report?.status === 'ok')).toBe(true);
  });

  it('closes a connection kept warm when another target waits for the slot it holds', async () => {
    const budget = new ConnectionBudget(1);
    const [warm, other] = fleet() as [Target, Target, ...Target[]];
    // Kept for an hour: only the budget's reclaim can free its slot for the other target.
    const pools = new TargetPools(logger, {
      budget,
      warmMs: (target) => (target.name === warm.name ? 3600_000 : undefined),
    });
    try {
      const warmPool = pools.readOnly(warm);
      const first = await runHealthCheck(warm, warmPool, { only: CHECKS });
      expect(first.status).toBe('ok');
      expect(budget.inUse).toBe(1);
      const second = await runHealthCheck(other, pools.readOnly(other), { only: CHECKS });
      expect(second.status).toBe('ok');
      expect(second.connectionWaitMs).toBeGreaterThan(0);
      // Whoever still holds the closed pool (a procedure between two steps) is served by
      // its successor, within the budget as ever.
      const { rows } = await warmPool.query<{ one: number }>('SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
      expect(budget.peakInUse).toBe(1);
    } finally {
      await pools.closeAll();
    }
    expect(budget.inUse).toBe(0);
  });

  it('lets a stopping worker cancel the statements of a fleet target’s pools', async () => {
    const budget = new ConnectionBudget(4);
    const worker = new TargetPools(logger, { budget });
    const scoped = worker.scope();
    const [target] = fleet() as [Target];
    const slow = scoped.readOnly(target).query('SELECT pg_sleep(30)');
    const outcome = slow.then(
      () => 'finished',
      (err: Error) => err.message,
    );
    // Cancelled once it is running: the worker's cancel sees the fleet's connection.
    let cancelled = 0;
    for (let attempt = 0; attempt < 100 && cancelled === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      cancelled = await worker.cancelInFlight();
    }
    expect(cancelled).toBe(1);
    expect(await outcome).toMatch(/canceling statement due to user request/);
    await worker.closeAll();
    expect(budget.inUse).toBe(0);
  });

  it('cancels a fleet run’s statement stuck on a lock when the worker stops', async () => {
    const db = dbs[0]!;
    const holder = new pg.Client({ connectionString: db.url, application_name: 'budget-test-lock' });
    await holder.connect();
    await holder.query('CREATE TABLE IF NOT EXISTS locked_t (id int)');
    await holder.query('BEGIN; LOCK TABLE locked_t IN ACCESS EXCLUSIVE MODE');
    try {
      const patient = { ...testTarget(db.url).settings, lockTimeoutMs: 60_000, statementTimeoutMs: 60_000 };
      const target = testTarget(db.url, { name: 'stuck', settings: patient });
      const runs = new RunStore(state.pool);
      const run = (await runs.createHealthRun({ target: 'stuck', requestedBy: 'U0ONCALL' })).run;
      const worker = new TargetPools(logger, { budget: new ConnectionBudget(4) });
      const queues = { enqueue: async () => undefined } as unknown as QueueBackend;
      const health = { budgetMs: 60_000, evidenceLimit: 5, only: ['largest_tables'] };
      const fleetRun = fleetHealthJobProcessor({
        runs,
        targets: new TargetRegistry([target]),
        pools: worker,
        queues,
        logger,
        health,
        concurrency: 2,
        connectionBudget: 4,
      })({ runIds: [run.id], channel: 'C0OPS', label: 'all targets' });
      // What a stopping worker does to the pools it gave its jobs.
      let cancelled = 0;
      for (let attempt = 0; attempt < 200 && cancelled === 0; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        cancelled = await worker.cancelInFlight();
      }
      expect(cancelled).toBe(1);
      await fleetRun;
      const [stored] = await runs.getMany([run.id]);
      expect(stored?.report?.findings.map((f) => [f.id, f.status])).toEqual([['largest_tables', 'error']]);
      expect(stored?.report?.findings[0]?.summary).toMatch(/cancel/i);
      await worker.closeAll();
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  }, 30_000);
});
