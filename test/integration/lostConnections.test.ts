import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { executeAction } from '../../src/remediation/execute.js';
import { computePlan } from '../../src/remediation/plan.js';
import { runChecks } from '../../src/runbooks/execute/runChecks.js';
import type { ActionStep, CheckStep } from '../../src/runbooks/model.js';
import { analyzeSqlBlock, loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { failureText } from '../../src/targets/connectionErrors.js';
import { TargetPools } from '../../src/targets/pools.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from '../../src/targets/target.js';
import { eventually } from '../support/botHarness.js';
import { createTestDatabase, openSession, type TestDatabase, testTarget } from '../support/databases.js';
import { startFreezableProxy } from '../support/freezableProxy.js';

/*
 * A target connection that dies under a check, a preview or an execution (its backend
 * terminated with pg_terminate_backend) is that step's result, "connection lost (…)", never an
 * unhandled 'error' event: in this test process one would fail the run. An execution cut
 * before COMMIT rolled back and is `failed`; one cut while COMMIT was in flight is
 * `outcome_unknown`.
 */
const [server] = inject('postgresServers');

function step<K extends 'check' | 'action'>(
  kind: K,
  sql: string,
): K extends 'check' ? CheckStep : ActionStep {
  const analysis = analyzeSqlBlock(sql);
  if (!analysis.ok) throw new Error(analysis.error);
  const [statement] = analysis.statements;
  if (statement?.class !== kind) throw new Error(`not a ${kind}: ${sql}`);
  const base = {
    id: '1',
    title: statement.comment ?? kind,
    role: kind === 'check' ? 'diagnose' : 'remediate',
    source: { file: 'test.md', line: 1 },
    statement: statement.statement,
  };
  return (
    kind === 'check'
      ? { ...base, kind: 'check' }
      : {
          ...base,
          kind: 'action',
          risk: statement.risk ?? 'medium',
          riskReasons: statement.riskReasons,
          actionReasons: statement.actionReasons,
          noTransaction: statement.noTransaction,
        }
  ) as K extends 'check' ? CheckStep : ActionStep;
}

describe('a target connection lost while in use', () => {
  let db: TestDatabase;
  let pools: TargetPools;
  let target: Target;
  let locker: pg.Client;

  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server!.url, { demoSchema: false });
    // Long timeouts: the bot's sessions wait until the test terminates them.
    target = testTarget(db.url, {
      settings: { ...DEFAULT_TARGET_SETTINGS, statementTimeoutMs: 60_000, lockTimeoutMs: 60_000 },
    });
    pools = new TargetPools();
    locker = await openSession(db.url, 'test-locker');
  });
  afterAll(async () => {
    await locker?.end().catch(() => undefined);
    await pools?.closeAll();
    await db?.drop();
  });
  beforeEach(async () => {
    await db.admin.query(`
      DROP TABLE IF EXISTS items;
      DROP FUNCTION IF EXISTS slow_commit;
      CREATE TABLE items (id int PRIMARY KEY, status text NOT NULL);
      INSERT INTO items SELECT i, CASE WHEN i <= 3 THEN 'stuck' ELSE 'done' END FROM generate_series(1, 10) AS i;`);
  });

  /** Holds an ACCESS EXCLUSIVE lock on items until the returned function is called. */
  async function lockItems(): Promise<() => Promise<void>> {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    return async () => {
      await locker.query('ROLLBACK');
    };
  }

  /** Terminates the bot's session once it is in the state `where` describes (SQL on pg_stat_activity). */
  async function terminateBotSession(where: string): Promise<void> {
    await eventually(async () => {
      const { rows } = await db.admin.query<{ terminated: boolean }>(
        `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
          WHERE application_name = 'runbook-bot' AND datname = current_database() AND ${where}`,
      );
      return rows.some((row) => row.terminated) ? true : undefined;
    });
  }

  const stuckCount = async () =>
    (await db.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE status = 'stuck'`))
      .rows[0]!.n;

  it('hands out only clients with an error listener, from either pool', async () => {
    for (const pool of [pools.readOnly(target), pools.remediation(target)]) {
      const client = await pool.connect();
      try {
        expect(client.listenerCount('error')).toBeGreaterThan(0);
      } finally {
        client.release();
      }
    }
  });

  it('makes the check it cut "connection lost" and the checks after it "not run"', async () => {
    const unlock = await lockItems();
    try {
      const running = runChecks(pools.readOnly(target), target, [
        { step: step('check', 'SELECT 1 AS first'), values: [] },
        { step: step('check', 'SELECT count(*) FROM items'), values: [] },
        { step: step('check', 'SELECT 3 AS third'), values: [] },
      ]);
      await terminateBotSession(`wait_event_type = 'Lock'`);
      const results = await running;
      expect(results.map((result) => result.status)).toEqual(['ok', 'error', 'error']);
      expect(results[1]!.error).toMatch(
        /^connection lost \(terminating connection due to administrator command/,
      );
      expect(results[2]!.error).toMatch(/^not run: connection lost \(/);
    } finally {
      await unlock();
    }
    // The pool hands out a working connection afterwards.
    const [again] = await runChecks(pools.readOnly(target), target, [
      { step: step('check', 'SELECT count(*) FROM items'), values: [] },
    ]);
    expect(again).toMatchObject({ status: 'ok', rows: [['10']] });
  });

  it('fails a preview with "connection lost"', async () => {
    const unlock = await lockItems();
    try {
      const previewing = computePlan(
        pools.remediation(target),
        target,
        step('action', `UPDATE items SET status = 'done' WHERE status = 'stuck'`),
        [],
      ).then(
        () => 'no error',
        (err: unknown) => failureText(err),
      );
      await terminateBotSession(`wait_event_type = 'Lock'`);
      expect(await previewing).toMatch(
        /^connection lost \(terminating connection due to administrator command/,
      );
    } finally {
      await unlock();
    }
  });

  it('reports an execution whose connection was lost before COMMIT as failed: it rolled back', async () => {
    const action = step('action', `UPDATE items SET status = 'done' WHERE status = 'stuck'`);
    const approved = await computePlan(pools.remediation(target), target, action, []);
    const unlock = await lockItems();
    let result: Awaited<ReturnType<typeof executeAction>>;
    try {
      const executing = executeAction(pools.remediation(target), target, action, [], approved);
      await terminateBotSession(`wait_event_type = 'Lock'`);
      result = await executing;
    } finally {
      await unlock();
    }
    expect(result).toEqual({
      status: 'failed',
      error: expect.stringMatching(/^connection lost \(terminating connection due to administrator command/),
    });
    expect(await stuckCount()).toBe(3);
  });

  it('reports an execution whose connection was lost while COMMIT was in flight as outcome unknown', async () => {
    // A deferred constraint trigger runs at COMMIT (never in the rolled-back preview): it
    // holds COMMIT open long enough to lose the connection under it.
    await db.admin.query(`
      CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON items
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`);
    const action = step('action', `UPDATE items SET status = 'done' WHERE status = 'stuck'`);
    const approved = await computePlan(pools.remediation(target), target, action, []);
    const executing = executeAction(pools.remediation(target), target, action, [], approved);
    await terminateBotSession(`state = 'active' AND query = 'COMMIT'`);
    expect(await executing).toEqual({
      status: 'outcome_unknown',
      reason: expect.stringMatching(
        /^connection lost \(terminating connection due to administrator command\) while COMMIT was in flight/,
      ),
    });
  });

  it('reports an execution whose COMMIT got no answer (the network went silent) as outcome unknown', async () => {
    const proxy = await startFreezableProxy(db.url);
    // pg's own read timeout is the statement timeout plus a margin.
    const silent = testTarget(proxy.url, {
      settings: { ...DEFAULT_TARGET_SETTINGS, statementTimeoutMs: 200, lockTimeoutMs: 100 },
    });
    const silentPools = new TargetPools();
    try {
      const action = step('action', `UPDATE items SET status = 'done' WHERE status = 'stuck'`);
      const approved = await computePlan(silentPools.remediation(silent), silent, action, []);
      proxy.freezeOn('COMMIT');
      // The COMMIT may still arrive and commit after the bot stopped waiting: not "failed".
      expect(await executeAction(silentPools.remediation(silent), silent, action, [], approved)).toEqual({
        status: 'outcome_unknown',
        reason: expect.stringMatching(
          /^no answer from the target \(Query read timeout\) while COMMIT was in flight/,
        ),
      });
    } finally {
      await silentPools.closeAll();
      await proxy.close();
    }
  });
});
