import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { BatchProgress } from '../../src/remediation/batchRun.js';
import { executeAction } from '../../src/remediation/execute.js';
import { computePlan } from '../../src/remediation/plan.js';
import type { ActionStep } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { TargetPools } from '../../src/targets/pools.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from '../../src/targets/target.js';
import { action } from '../support/actionSteps.js';
import { createTestDatabase, openSession, type TestDatabase, testTarget } from '../support/databases.js';

/*
 * Bounded batches against real servers: 2,500 matching rows under the default limit of
 * 1,000 are offered as 3 batches only when batches are allowed, each row is changed exactly
 * once (also by an UPDATE whose SET leaves the row matching), every batch is reported as it
 * commits, and a stop between batches leaves the earlier ones done and says so.
 */
const servers = inject('postgresServers');

const ARCHIVE_LOGS = "DELETE FROM system_logs WHERE created_at < now() - interval '90 days'";
// Seed 003's archive: the SET appends, so every archived row still matches the WHERE.
const ARCHIVE_ORDERS = `UPDATE orders
SET notes = COALESCE(notes, '') || ' [ARCHIVED]'
WHERE status = 'delivered'
AND delivered_at < NOW() - INTERVAL '2 years'`;

describe.each(servers)('batched DML on $label', (server) => {
  let db: TestDatabase;
  let pools: TargetPools;
  let target: Target;
  let pool: pg.Pool;

  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server.url, { demoSchema: false });
    target = testTarget(db.url, { settings: { ...DEFAULT_TARGET_SETTINGS, lockTimeoutMs: 300 } });
    pools = new TargetPools();
    pool = pools.remediation(target);
  });
  afterAll(async () => {
    await pools?.closeAll();
    await db?.drop();
  });

  beforeEach(async () => {
    await db.admin.query(`
      DROP TABLE IF EXISTS system_logs, orders, bare_logs;
      CREATE TABLE system_logs (id bigint PRIMARY KEY, created_at timestamptz NOT NULL);
      INSERT INTO system_logs SELECT i, now() - CASE WHEN i <= 2500 THEN interval '100 days' ELSE interval '1 day' END
        FROM generate_series(1, 2600) AS i;
      CREATE TABLE orders (id text NOT NULL, status text, notes text, delivered_at timestamptz);
      CREATE UNIQUE INDEX orders_id ON orders (id);
      INSERT INTO orders SELECT 'o' || i, 'delivered', CASE WHEN i % 2 = 0 THEN 'gift' END, now() - interval '3 years'
        FROM generate_series(1, 2500) AS i;
      INSERT INTO orders VALUES ('recent', 'delivered', NULL, now());
      CREATE TABLE bare_logs (created_at timestamptz);
      INSERT INTO bare_logs SELECT now() - interval '100 days' FROM generate_series(1, 2500);`);
  });

  const count = async (sql: string) => (await db.admin.query<{ n: number }>(sql)).rows[0]!.n;

  /** Executes the plan as approved, collecting each batch's report. */
  async function execute(
    step: ActionStep,
    on: Target = target,
    during?: (p: BatchProgress) => Promise<void>,
  ) {
    const plan = await computePlan(pools.remediation(on), on, step, []);
    const reported: BatchProgress[] = [];
    const result = await executeAction(
      pools.remediation(on),
      on,
      step,
      [],
      plan,
      undefined,
      async (progress) => {
        reported.push(progress);
        await during?.(progress);
      },
    );
    return { plan, result, reported };
  }

  it('keeps a DELETE over the limit blocked when batches are not allowed, saying how to allow them', async () => {
    const plan = await computePlan(pool, target, action(ARCHIVE_LOGS), []);
    expect(plan.blocked?.kind).toBe('over_limit');
    expect(plan.blocked?.reason).toMatch(
      /^it would change 2,500 rows, more than its limit of 1,000 .*; or let it run in batches of at most 1,000 rows, each committed on its own \(batched=yes on the procedure, or batched_dml on the target\)$/,
    );
    expect(plan.batches).toBeUndefined();
  });

  it('offers 3 batches of at most 1,000 rows, then deletes each matching row once, reporting every batch', async () => {
    const { plan, result, reported } = await execute(action(ARCHIVE_LOGS, { batched: true }));
    expect(plan.blocked).toBeUndefined();
    expect(plan.batches).toEqual({
      count: 3,
      size: 1000,
      key: [{ name: 'id', type: 'bigint' }],
      maxRows: 2750,
      allowedBy: 'the procedure (batched=yes)',
    });
    expect(plan.summary).toContain(
      'DELETE would delete 2,500 rows: runs in 3 batches of at most 1,000 rows, in order of id (allowed by the procedure (batched=yes)); each batch is its own transaction, so a stop between batches leaves the earlier ones done',
    );
    expect(plan.riskRaised).toBe('it changes 2,500 rows in 3 batches, each committed on its own');
    expect(reported.map((progress) => [progress.done, progress.rows])).toEqual([
      [1, 1000],
      [2, 2000],
      [3, 2500],
    ]);
    expect(result).toMatchObject({
      status: 'succeeded',
      affectedRows: 2500,
      summary: 'DELETE changed 2,500 rows in 3 batches',
      batches: { done: 3, planned: 3, rows: 2500 },
    });
    expect(await count('SELECT count(*)::int AS n FROM system_logs')).toBe(100);
  });

  it('archives each order exactly once though the SET leaves it matching, walking a unique NOT NULL index (allowed by the target)', async () => {
    const batchingTarget = { ...target, settings: { ...target.settings, batchedDml: true } };
    const { plan, result, reported } = await execute(action(ARCHIVE_ORDERS), batchingTarget);
    expect(plan.batches).toMatchObject({
      count: 3,
      key: [{ name: 'id', type: 'text' }],
      allowedBy: 'target test (batched_dml)',
    });
    expect(reported).toHaveLength(3);
    expect(result).toMatchObject({ status: 'succeeded', affectedRows: 2500 });
    expect(
      await count("SELECT count(*)::int AS n FROM orders WHERE notes LIKE '%[ARCHIVED]%[ARCHIVED]%'"),
    ).toBe(0);
    expect(
      await count("SELECT count(*)::int AS n FROM orders WHERE notes IN (' [ARCHIVED]', 'gift [ARCHIVED]')"),
    ).toBe(2500);
    expect(await count("SELECT count(*)::int AS n FROM orders WHERE id = 'recent' AND notes IS NULL")).toBe(
      1,
    );
  });

  it('refuses batches on a table without a key, or when the SET moves the key, saying why', async () => {
    const bare = await computePlan(
      pool,
      target,
      action("DELETE FROM bare_logs WHERE created_at < now() - interval '90 days'", { batched: true }),
      [],
    );
    expect(bare.blocked?.kind).toBe('over_limit');
    expect(bare.blocked?.reason).toContain(
      'It cannot run in batches: "bare_logs" has no primary key or unique index on NOT NULL columns to walk in order',
    );
    const moving = await computePlan(
      pool,
      target,
      action('UPDATE system_logs SET id = id + 100000', { batched: true }),
      [],
    );
    expect(moving.blocked?.reason).toContain(
      'It cannot run in batches: it sets id, the key batches walk in order',
    );
    expect(await count('SELECT count(*)::int AS n FROM bare_logs')).toBe(2500);
  });

  it('stops at a batch that fails, leaving the earlier batches committed and saying how many', async () => {
    const locker = await openSession(db.url, 'test-locker');
    try {
      const { result, reported } = await execute(
        action(ARCHIVE_LOGS, { batched: true }),
        target,
        async (progress) => {
          // Batch 3 reaches row 2500: held by another session, it waits past the lock timeout.
          if (progress.done === 2) {
            await locker.query('BEGIN');
            await locker.query('SELECT 1 FROM system_logs WHERE id = 2500 FOR UPDATE');
          }
        },
      );
      expect(reported).toHaveLength(2);
      expect(result).toMatchObject({ status: 'failed', batches: { done: 2, rows: 2000 } });
      expect(result.status === 'failed' && result.error).toMatch(
        /^batch 3 failed and was rolled back: .*lock.*; 2 of 3 batches \(2,000 of 2,500 rows\) committed and stay done$/,
      );
    } finally {
      await locker.end();
    }
    expect(await count('SELECT count(*)::int AS n FROM system_logs')).toBe(600);
  });

  it('rolls back the batch that would pass the approved count (with its drift) and stops there', async () => {
    const { result } = await execute(action(ARCHIVE_LOGS, { batched: true }), target, async (progress) => {
      // Rows that match arrive after the approval, beyond the 10% drift the count allows.
      if (progress.done === 1)
        await db.admin.query(
          "INSERT INTO system_logs SELECT i, now() - interval '100 days' FROM generate_series(5001, 6000) AS i",
        );
    });
    expect(result).toMatchObject({ status: 'failed', batches: { done: 2, rows: 2000 } });
    expect(result.status === 'failed' && result.error).toContain(
      'batch 3 was rolled back: it would bring the rows changed to 3,000, more than the 2,750 approved',
    );
    expect(await count('SELECT count(*)::int AS n FROM system_logs')).toBe(1600);
  });

  it('does not run in batches a plan approved as one statement whose count has grown past the limit since', async () => {
    const roomy = { ...target, settings: { ...target.settings, maxRows: 2400 } };
    const step = action(ARCHIVE_LOGS, { batched: true });
    await db.admin.query('DELETE FROM system_logs WHERE id BETWEEN 2301 AND 2500');
    const plan = await computePlan(pools.remediation(roomy), roomy, step, []);
    expect(plan).toMatchObject({ affectedRows: 2300 });
    expect(plan.batches).toBeUndefined();
    // 200 more: within the drift allowed (±230), but over the limit of 2,400.
    await db.admin.query(
      "INSERT INTO system_logs SELECT i, now() - interval '100 days' FROM generate_series(2301, 2500) AS i",
    );
    expect(await executeAction(pools.remediation(roomy), roomy, step, [], plan)).toMatchObject({
      status: 'changed',
      reason: 'it would now run in 2 batches; the approved plan was one statement',
    });
    expect(await count('SELECT count(*)::int AS n FROM system_logs')).toBe(2600);
  });
});
