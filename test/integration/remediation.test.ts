import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_LIMITS, executeAction } from '../../src/remediation/execute.js';
import { computePlan, type Plan } from '../../src/remediation/plan.js';
import type { ActionStep } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { TargetPools } from '../../src/targets/pools.js';
import { BOT_APPLICATION_NAME, DEFAULT_TARGET_SETTINGS, type Target } from '../../src/targets/target.js';
import { action } from '../support/actionSteps.js';
import {
  createTestDatabase,
  openSession,
  type TestDatabase,
  testTarget,
  withDatabase,
} from '../support/databases.js';

/*
 * The remediation engine against real servers: previews must have no effect outside a
 * rolled-back transaction, execution must re-check and stay within limits, and signalling
 * must never reach the bot's own sessions or superusers. Statements go through the real
 * runbook classifier, as they would from a runbook file.
 */
const servers = inject('postgresServers');

async function pidOf(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Ends a session that the test may have had terminated; never hangs the test. */
async function close(client: pg.Client): Promise<void> {
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 500)),
  ]);
}

const sorted = (pids: number[]) => [...pids].sort((a, b) => a - b);

// Seed 002's statement, narrowed to this test's database and idle sessions of any age.
const TERMINATE_IDLE = `
SELECT pg_terminate_backend(pid)
FROM pg_stat_activity
WHERE state = 'idle'
AND datname = current_database()
AND query_start < now() - interval '0 seconds';`;

describe.each(servers)('remediation on $label', (server) => {
  let db: TestDatabase;
  let pools: TargetPools;
  let target: Target;
  let pool: pg.Pool;
  /** A login role that is not a superuser: the sessions a runbook may signal. */
  let userUrl: string;
  const role = `rb_victim_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server.url, { demoSchema: false });
    await db.admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'victim-pw'`);
    userUrl = withDatabase(server.url, db.name, { user: role, password: 'victim-pw' });
    target = testTarget(db.url, { settings: { ...DEFAULT_TARGET_SETTINGS, lockTimeoutMs: 300 } });
    pools = new TargetPools();
    pool = pools.remediation(target);
  });
  afterAll(async () => {
    await pools?.closeAll();
    await db?.drop();
    const root = await openSession(server.url, 'test-cleanup');
    await root.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await root.end();
  });

  async function resetItems(): Promise<void> {
    await db.admin.query(`
      DROP TABLE IF EXISTS items;
      CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, status text NOT NULL);
      INSERT INTO items SELECT i, 'item-' || i, CASE WHEN i <= 3 THEN 'stuck' ELSE 'done' END
      FROM generate_series(1, 10) AS i;`);
  }

  async function statusCounts(): Promise<Record<string, number>> {
    const { rows } = await db.admin.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM items GROUP BY status',
    );
    return Object.fromEntries(rows.map((row) => [row.status, row.n]));
  }

  async function alive(pids: number[]): Promise<number[]> {
    const { rows } = await db.admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])',
      [pids],
    );
    return sorted(rows.map((row) => row.pid));
  }

  it('previews a terminate statement without signalling, then terminates exactly the approved victims', async () => {
    const victims = await Promise.all([openSession(userUrl, 'victim'), openSession(userUrl, 'victim')]);
    // A non-superuser session carrying the bot's name: matches the WHERE, must never be listed.
    const botLike = await openSession(userUrl, BOT_APPLICATION_NAME);
    try {
      const victimPids = sorted(await Promise.all(victims.map(pidOf)));
      const botPid = await pidOf(botLike);
      const adminPid = await pidOf(db.admin);
      const step = action(TERMINATE_IDLE);

      const plan = await computePlan(pool, target, step, []);
      expect(plan.mode).toBe('signal');
      expect(plan.backends?.map((backend) => backend.pid)).toEqual(victimPids);
      expect(
        plan.backends?.every((backend) => backend.user === role && backend.application === 'victim'),
      ).toBe(true);
      expect(plan.excluded).toEqual(
        expect.arrayContaining([
          { pid: botPid, reason: `a ${BOT_APPLICATION_NAME} session` },
          { pid: adminPid, reason: 'a superuser' },
        ]),
      );
      expect(plan.fingerprint).toBe(victimPids.join(','));
      expect(plan.summary).toMatch(/^would terminate 2 backends/);
      expect(plan.hash).toMatch(/^[0-9a-f]{64}$/);
      // The preview signalled nobody.
      expect(await alive([...victimPids, botPid])).toEqual(sorted([...victimPids, botPid]));

      const result = await executeAction(pool, target, step, [], plan);
      expect(result).toMatchObject({ status: 'succeeded', signalled: victimPids });
      await eventually(async () => (await alive(victimPids)).length === 0);
      expect(await alive([botPid])).toEqual([botPid]);
      await botLike.query('SELECT 1');
      await db.admin.query('SELECT 1');
    } finally {
      await Promise.all([...victims, botLike].map(close));
    }
  });

  it('stops with "changed" when a new victim appears after approval, and signals nobody', async () => {
    const first = await openSession(userUrl, 'victim');
    let late: pg.Client | undefined;
    try {
      // A session that never ran a query has no query_start: the WHERE would not match it.
      const firstPid = await pidOf(first);
      const step = action(TERMINATE_IDLE);
      const plan = await computePlan(pool, target, step, []);
      expect(plan.backends?.map((backend) => backend.pid)).toEqual([firstPid]);

      late = await openSession(userUrl, 'victim');
      const latePid = await pidOf(late);
      const result = await executeAction(pool, target, step, [], plan);
      expect(result.status).toBe('changed');
      if (result.status !== 'changed') throw new Error('unreachable');
      expect(result.reason).toContain(String(latePid));
      expect(result.current.backends?.map((backend) => backend.pid)).toEqual(sorted([firstPid, latePid]));
      expect(await alive([firstPid, latePid])).toEqual(sorted([firstPid, latePid]));

      // Approved backends that went away are fine: only the intersection is signalled.
      const fresh = await computePlan(pool, target, step, []);
      await close(late);
      late = undefined;
      await eventually(async () => (await alive([latePid])).length === 0);
      const rerun = await executeAction(pool, target, step, [], fresh);
      expect(rerun).toMatchObject({ status: 'succeeded', signalled: [firstPid] });
    } finally {
      await close(first);
      if (late) await close(late);
    }
  });

  it('refuses to signal more backends than maxBackends', async () => {
    const victims = await Promise.all([1, 2, 3].map(() => openSession(userUrl, 'victim')));
    try {
      const pids = await Promise.all(victims.map(pidOf));
      const step = action(TERMINATE_IDLE);
      const plan = await computePlan(pool, target, step, []);
      expect(plan.backends).toHaveLength(3);
      const result = await executeAction(pool, target, step, [], plan, { ...DEFAULT_LIMITS, maxBackends: 2 });
      expect(result.status).toBe('aborted');
      expect(await alive(pids)).toEqual(sorted(pids));
    } finally {
      await Promise.all(victims.map(close));
    }
  });

  it('previews pg_cancel_backend($1) with the bound pid, and never the bot’s own session', async () => {
    const victim = await openSession(userUrl, 'victim');
    const botLike = await openSession(userUrl, BOT_APPLICATION_NAME);
    try {
      const step = action('SELECT pg_cancel_backend([PID]);');
      expect(step.statement.params.map((param) => param.type)).toEqual(['integer']);
      const victimPid = await pidOf(victim);
      const sleeping = victim.query('SELECT pg_sleep(20)').then(
        () => 'finished',
        (err: Error) => err.message,
      );
      await eventually(async () => {
        const { rows } = await db.admin.query(
          "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
          [victimPid],
        );
        return rows.length > 0;
      });

      const plan = await computePlan(pool, target, step, [victimPid]);
      expect(plan.mode).toBe('signal');
      expect(plan.backends?.map((backend) => backend.pid)).toEqual([victimPid]);
      expect(plan.backends?.[0]).toMatchObject({ state: 'active', query: 'SELECT pg_sleep(20)' });
      expect(plan.summary).toMatch(/^would cancel the queries of 1 backend/);

      const result = await executeAction(pool, target, step, [victimPid], plan);
      expect(result).toMatchObject({ status: 'succeeded', signalled: [victimPid] });
      expect(await sleeping).toMatch(/canceling statement due to user request/);

      const botPid = await pidOf(botLike);
      const ownPlan = await computePlan(pool, target, step, [botPid]);
      expect(ownPlan.backends).toEqual([]);
      expect(ownPlan.excluded).toEqual([{ pid: botPid, reason: `a ${BOT_APPLICATION_NAME} session` }]);
      const noPlan = await computePlan(pool, target, step, [2_000_000_000]);
      expect(noPlan.backends).toEqual([]);
    } finally {
      await Promise.all([victim, botLike].map(close));
    }
  });

  it('refuses a signalling statement whose targets it cannot evaluate without the call', async () => {
    // The call is hidden in a CTE: dropping it would not leave "the backends it signals".
    const step = action(`
      WITH killed AS (SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'victim')
      SELECT count(*) FROM killed;`);
    await expect(computePlan(pool, target, step, [])).rejects.toThrow(/not an output column/);
    const fake: Plan = {
      target: 'test',
      sql: step.statement.sql,
      params: [],
      mode: 'signal',
      summary: '',
      backends: [],
      noTransaction: false,
      fingerprint: '',
      hash: '',
    };
    const result = await executeAction(pool, target, step, [], fake);
    expect(result.status).toBe('failed');
  });

  it('previews an UPDATE in a rolled-back transaction, executes it, and rolls back over maxRows', async () => {
    await resetItems();
    const step = action("UPDATE items SET status = 'queued' WHERE status = 'stuck';");
    const plan = await computePlan(pool, target, step, []);
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 3, fingerprint: '3', noTransaction: false });
    expect(plan.summary).toBe('UPDATE would change 3 rows');
    expect(plan.sample?.columns).toEqual(['id', 'name', 'status']);
    expect(plan.sample?.rows.map((row) => row[2])).toEqual(['queued', 'queued', 'queued']);
    // Its RETURNING rows: the card says they show the change made, not the rows as they are.
    expect(plan.sample).toMatchObject({
      when: 'after',
      caption: 'the rows it would change, as they would be after the change',
    });
    expect(await statusCounts()).toEqual({ stuck: 3, done: 7 });

    const aborted = await executeAction(pool, target, step, [], plan, { ...DEFAULT_LIMITS, maxRows: 2 });
    expect(aborted.status).toBe('aborted');
    expect(await statusCounts()).toEqual({ stuck: 3, done: 7 });

    const result = await executeAction(pool, target, step, [], plan);
    expect(result).toMatchObject({ status: 'succeeded', affectedRows: 3, summary: 'UPDATE changed 3 rows' });
    expect(await statusCounts()).toEqual({ queued: 3, done: 7 });
  });

  it('stops with "changed" when the row count moved more than max(10%, 1 row)', async () => {
    await resetItems();
    const step = action("UPDATE items SET status = 'queued' WHERE status = 'stuck';");
    const plan = await computePlan(pool, target, step, []);
    // One more row (3 → 4) is within the allowed drift of 1; two more (3 → 5) is not.
    await db.admin.query("UPDATE items SET status = 'stuck' WHERE id IN (4, 5)");
    const result = await executeAction(pool, target, step, [], plan);
    expect(result.status).toBe('changed');
    if (result.status !== 'changed') throw new Error('unreachable');
    expect(result.current.affectedRows).toBe(5);
    expect(await statusCounts()).toEqual({ stuck: 5, done: 5 });
  });

  it('binds a hostile text value: it matches nothing and runs nothing', async () => {
    await resetItems();
    const step = action("UPDATE items SET status = 'queued' WHERE name = '<item-name>';");
    expect(step.statement.sql).toContain('$1');
    const hostile = "'; DROP TABLE items; --";
    const plan = await computePlan(pool, target, step, [hostile]);
    expect(plan).toMatchObject({
      mode: 'dml',
      affectedRows: 0,
      params: [hostile],
      blocked: { kind: 'nothing_to_do', reason: 'it would change no rows' },
    });
    const result = await executeAction(pool, target, step, [hostile], plan);
    expect(result).toMatchObject({ status: 'nothing_done', affectedRows: 0 });
    expect(await statusCounts()).toEqual({ stuck: 3, done: 7 });
  });

  it('describes VACUUM without running it, and runs it outside a transaction', async () => {
    await resetItems();
    const step = action('VACUUM items;');
    expect(step.noTransaction).toBe(true);
    const plan = await computePlan(pool, target, step, []);
    expect(plan).toMatchObject({
      mode: 'no-transaction',
      noTransaction: true,
      lockLevel: 'SHARE UPDATE EXCLUSIVE',
      fingerprint: 'static',
    });
    expect(plan.summary).toBe(
      'VACUUM runs outside a transaction; takes SHARE UPDATE EXCLUSIVE; not run for the preview',
    );
    const result = await executeAction(pool, target, step, [], plan);
    expect(result).toMatchObject({ status: 'succeeded' });
  });

  it("tries a call to the target's own function in a rolled-back transaction, counts its rows per table, then runs it", async () => {
    await resetItems();
    await db.admin.query(`
      CREATE TABLE IF NOT EXISTS clear_log (at timestamptz);
      CREATE OR REPLACE FUNCTION admin_clear_queue(reason text) RETURNS int LANGUAGE plpgsql AS $$
        DECLARE cleared int;
        BEGIN
          UPDATE items SET status = 'cleared' WHERE status = reason;
          GET DIAGNOSTICS cleared = ROW_COUNT;
          INSERT INTO clear_log VALUES (now());
          NOTIFY queue_cleared;
          RETURN cleared;
        END $$;`);
    const step = action("SELECT admin_clear_queue('stuck');");
    const plan = await computePlan(pool, target, step, []);
    expect(plan).toMatchObject({
      mode: 'trial',
      summary:
        'SELECT would update 3 rows of public.items, insert 1 row of public.clear_log (tried in a transaction that was rolled back); it also sends a notification (NOTIFY), delivered only if committed',
      affectedRows: 4,
      changes: [
        { table: 'public.items', inserted: 0, updated: 3, deleted: 0 },
        { table: 'public.clear_log', inserted: 1, updated: 0, deleted: 0 },
      ],
      sample: { columns: ['admin_clear_queue'], rows: [['3']] },
    });
    const count = async () =>
      (await db.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM clear_log')).rows[0]!.n;
    expect(await count()).toBe(0);
    // Over the row limit, it is not offered; execution would roll it back anyway.
    const tight = { ...DEFAULT_LIMITS, maxRows: 3, rowLimitSetBy: 'the test' };
    expect((await computePlan(pool, target, step, [], tight)).blocked?.kind).toBe('over_limit');
    const result = await executeAction(pool, target, step, [], plan);
    // What it returned is kept to be shown, not only "SELECT done".
    expect(result).toMatchObject({
      status: 'succeeded',
      affectedRows: 4,
      output: { columns: ['admin_clear_queue'], rows: [['3']], rowCount: 1, truncated: false },
    });
    expect(await count()).toBe(1);
  });

  it('does not try a function call whose effects a rollback would not undo, or that it cannot read, and says why', async () => {
    await resetItems();
    await db.admin.query(`
      CREATE SEQUENCE IF NOT EXISTS rb_ticket;
      CREATE TABLE IF NOT EXISTS audited (id int, status text);
      CREATE OR REPLACE FUNCTION audited_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE OR REPLACE TRIGGER audited_note BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION audited_note();
      CREATE OR REPLACE FUNCTION rb_take_ticket() RETURNS bigint LANGUAGE sql AS $$ SELECT nextval('rb_ticket') $$;
      CREATE OR REPLACE FUNCTION rb_clear_dynamic(t text) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN EXECUTE format('DELETE FROM %I', t); END $$;
      CREATE OR REPLACE FUNCTION rb_kick() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN UPDATE items SET status = 'kicked'; PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE false; END $$;
      CREATE OR REPLACE FUNCTION rb_wipe() RETURNS void LANGUAGE sql AS $$ TRUNCATE items $$;
      CREATE OR REPLACE FUNCTION rb_touch_audited() RETURNS void LANGUAGE sql AS $$ UPDATE audited SET status = 'x' $$;
      CREATE OR REPLACE FUNCTION rb_boom() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN UPDATE items SET status = 'boom'; RAISE EXCEPTION 'queue is locked'; END $$;`);
    const cases: Array<[string, RegExp]> = [
      ['SELECT rb_take_ticket();', /rb_take_ticket\(\) calls nextval, which advances a sequence/],
      ["SELECT rb_clear_dynamic('items');", /runs SQL it builds at run time \(EXECUTE/],
      ['SELECT rb_kick();', /calls pg_terminate_backend, which terminates backends/],
      ['SELECT rb_wipe();', /runs TRUNCATE, which a trial cannot undo or count/],
      [
        'SELECT rb_touch_audited();',
        /would fire trigger audited_note on audited, whose code the bot does not try/,
      ],
    ];
    for (const [sql, why] of cases) {
      const plan = await computePlan(pool, target, action(sql), []);
      expect([sql, plan.mode]).toEqual([sql, 'statement']);
      expect(plan.summary).toMatch(/not tried in a rolled-back transaction: /);
      expect(plan.summary).toMatch(why);
    }
    const failing = await computePlan(pool, target, action('SELECT rb_boom();'), []);
    expect(failing.summary).toMatch(
      /rb_boom, which failed when tried in a rolled-back transaction \(queue is locked/,
    );
    // Nothing was run: no ticket taken, no row changed.
    const { rows } = await db.admin.query('SELECT is_called FROM rb_ticket');
    expect(rows[0].is_called).toBe(false);
    const changed = await db.admin.query(
      "SELECT count(*)::int AS n FROM items WHERE status NOT IN ('stuck', 'done')",
    );
    expect(changed.rows[0].n).toBe(0);
  });

  it("does not try a SECURITY DEFINER function whose owner has rights the bot's role lacks", async () => {
    await resetItems();
    await db.admin.query(`
      CREATE OR REPLACE FUNCTION rb_clear_as_owner() RETURNS int LANGUAGE sql SECURITY DEFINER
        AS $$ UPDATE items SET status = 'cleared' WHERE status = 'stuck' RETURNING 1 $$;
      GRANT SELECT ON items TO ${role};`);
    const owner = (await db.admin.query('SELECT current_user AS name')).rows[0].name;
    const asRole = testTarget(userUrl, { name: 'test-as-role' });
    const step = action('SELECT rb_clear_as_owner();');
    // Its own pools, closed here: other tests signal this role's sessions.
    const rolePools = new TargetPools();
    const plan = await computePlan(rolePools.remediation(asRole), asRole, step, []).finally(() =>
      rolePools.closeAll(),
    );
    expect(plan.mode).toBe('statement');
    expect(plan.summary).toContain(
      `calls public.rb_clear_as_owner(), which runs as its owner ${owner} (SECURITY DEFINER), with rights the bot's role does not have`,
    );
    // The owner itself may try it: the trial can do nothing it could not do anyway.
    expect(await computePlan(pool, target, step, [])).toMatchObject({ mode: 'trial', affectedRows: 3 });
  });

  it('never disables row-level security on a production target, and elsewhere plans its re-enable', async () => {
    const step = action('ALTER TABLE items DISABLE ROW LEVEL SECURITY;');
    expect(step.risk).toBe('high');
    const production = { ...target, tags: ['production'] };
    const refused = await computePlan(pool, production, step, []);
    expect(refused.blocked).toEqual({
      kind: 'not_allowed',
      reason: expect.stringMatching(/^disabling row-level security on "items" would open every row/),
    });
    expect(await executeAction(pool, production, step, [], refused)).toMatchObject({ status: 'aborted' });
    const staging = await computePlan(pool, target, step, []);
    expect(staging.blocked).toBeUndefined();
    expect(staging.revert?.sql).toBe('ALTER TABLE "items" ENABLE ROW LEVEL SECURITY');
  });

  it('keeps the rows an executed action returns, repeated column names and all', async () => {
    await db.admin.query(`
      CREATE OR REPLACE FUNCTION system_report() RETURNS TABLE(component text, status text, status2 text)
        LANGUAGE plpgsql VOLATILE AS $$
          BEGIN RETURN QUERY EXECUTE $q$ VALUES ('queue', 'ok', NULL), ('sync', 'stuck', 'x') $q$; END $$;`);
    // Built at run time, it is not tried (a trial would find it changes nothing): it runs once approved.
    const step = action('SELECT component, status, status2 AS status FROM system_report();');
    const plan = await computePlan(pool, target, step, []);
    const result = await executeAction(pool, target, step, [], plan);
    expect(result).toMatchObject({
      status: 'succeeded',
      summary: 'SELECT returned 2 rows',
      output: {
        columns: ['component', 'status', 'status'],
        rows: [
          ['queue', 'ok', 'NULL'],
          ['sync', 'stuck', 'x'],
        ],
        rowCount: 2,
      },
    });
    // A statement that returns no rows has no output.
    const update = action('UPDATE items SET name = name WHERE id = 1;');
    const updated = await executeAction(
      pool,
      target,
      update,
      [],
      await computePlan(pool, target, update, []),
    );
    expect(updated).toMatchObject({ status: 'succeeded', summary: 'UPDATE changed 1 row' });
    expect(updated).not.toHaveProperty('output');
  });

  it('previews an UPDATE on a table with a user trigger without firing it, and names the trigger', async () => {
    // nextval is not rolled back: the trigger's effect outside the transaction, observable.
    await db.admin.query(`
      DROP TABLE IF EXISTS accounts; DROP SEQUENCE IF EXISTS account_audit;
      CREATE SEQUENCE account_audit;
      CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, status text NOT NULL, note text);
      INSERT INTO accounts SELECT i, 'owner-' || i, CASE WHEN i <= 3 THEN 'locked' ELSE 'open' END
        FROM generate_series(1, 6) AS i;
      CREATE FUNCTION account_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM nextval('account_audit'); RETURN NEW; END $$;
      CREATE TRIGGER accounts_audit BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION account_audit();`);
    const audits = async () =>
      (
        await db.admin.query<{ n: string }>(
          'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM account_audit',
        )
      ).rows[0]!.n;
    // The note is bound only in SET: the equivalent SELECT still binds it.
    const step = action("UPDATE accounts SET status = 'open', note = '<reason>' WHERE status = 'locked';");
    const plan = await computePlan(pool, target, step, ['unlocked by runbook']);
    expect(await audits()).toBe('0');
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 3, fingerprint: '3' });
    expect(plan.notFired).toEqual(['trigger accounts_audit on accounts']);
    expect(plan.summary).toBe(
      'UPDATE would change 3 rows (counted with the equivalent SELECT, without running it: trigger accounts_audit on accounts not fired)',
    );
    expect(plan.sample?.rows.map((row) => row[0])).toEqual(['1', '2', '3']);
    // Read with the equivalent SELECT: the rows as they are, before the change.
    expect(plan.sample).toMatchObject({
      when: 'before',
      caption: 'the rows it would change, as they are now, before the change',
    });

    // Approved, it runs for real: the trigger fires then, once per row.
    const result = await executeAction(pool, target, step, ['unlocked by runbook'], plan);
    expect(result).toMatchObject({ status: 'succeeded', affectedRows: 3 });
    expect(await audits()).toBe('3');

    const remove = action('DELETE FROM accounts a USING accounts b WHERE a.id = b.id AND a.id > 4;');
    const removePlan = await computePlan(pool, target, remove, []);
    expect(removePlan).toMatchObject({ mode: 'dml', affectedRows: 2 });
    expect(await audits()).toBe('3');
  });

  it('counts around a trigger on a table whose name is a reserved word', async () => {
    await db.admin.query(`
      DROP TABLE IF EXISTS "order";
      CREATE TABLE "order" (id int PRIMARY KEY, state text NOT NULL);
      INSERT INTO "order" SELECT i, 'held' FROM generate_series(1, 4) AS i;
      CREATE FUNCTION order_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER order_touch BEFORE UPDATE ON "order" FOR EACH ROW EXECUTE FUNCTION order_touch();`);
    const plan = await computePlan(
      pool,
      target,
      action(`UPDATE "order" SET state = 'sent' WHERE id <= 3;`),
      [],
    );
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 3 });
    expect(plan.notFired).toEqual(['trigger order_touch on "order"']);
  });

  it('stops with "changed" when a trigger appeared on the table after the preview', async () => {
    await db.admin.query(`
      DROP TABLE IF EXISTS tickets;
      CREATE TABLE tickets (id int PRIMARY KEY, status text NOT NULL);
      INSERT INTO tickets SELECT i, 'open' FROM generate_series(1, 3) AS i;`);
    const step = action("UPDATE tickets SET status = 'closed' WHERE status = 'open';");
    const plan = await computePlan(pool, target, step, []);
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 3 });
    await db.admin.query(`
      CREATE FUNCTION tickets_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER tickets_touch BEFORE UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION tickets_touch();`);
    const result = await executeAction(pool, target, step, [], plan);
    expect(result.status).toBe('changed');
    expect(JSON.stringify(result)).toContain('it would now fire trigger tickets_touch on tickets');
    const { rows } = await db.admin.query(`SELECT count(*)::int AS n FROM tickets WHERE status = 'open'`);
    expect(rows[0].n).toBe(3);
  });

  it('previews an UPDATE without evaluating a CHECK constraint or a domain check that can act, and names them', async () => {
    // Constraints run for every row written, inside the preview's transaction; a nextval in
    // one is an effect outside it, as a trigger's is.
    await db.admin.query(`
      DROP TABLE IF EXISTS parcels; DROP DOMAIN IF EXISTS parcel_weight; DROP SEQUENCE IF EXISTS parcel_checks;
      CREATE SEQUENCE parcel_checks;
      CREATE FUNCTION parcel_checked(integer) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN PERFORM nextval('parcel_checks'); RETURN $1 >= 0; END $$;
      CREATE DOMAIN parcel_weight AS integer CHECK (parcel_checked(VALUE));
      CREATE TABLE parcels (id int PRIMARY KEY, weight parcel_weight, status text NOT NULL
        CONSTRAINT parcels_status_checked CHECK (parcel_checked(length(status))));
      INSERT INTO parcels SELECT i, i, 'held' FROM generate_series(1, 4) AS i;`);
    const checks = async () =>
      (
        await db.admin.query<{ n: string }>(
          'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM parcel_checks',
        )
      ).rows[0]!.n;
    const before = await checks();
    const plan = await computePlan(
      pool,
      target,
      action("UPDATE parcels SET status = 'sent' WHERE id <= 2;"),
      [],
    );
    expect(await checks()).toBe(before);
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 2 });
    expect(plan.notFired).toEqual([
      expect.stringMatching(
        /^check parcels_status_checked on parcels \(calls public\.parcel_checked\(integer\)/,
      ),
      expect.stringMatching(
        /^check parcel_weight_check of domain parcel_weight \(calls public\.parcel_checked\(integer\)/,
      ),
    ]);
  });

  it('previews an UPDATE whose BEFORE UPDATE trigger writes through dblink_exec without writing anything', async () => {
    const available = await db.admin.query("SELECT 1 FROM pg_available_extensions WHERE name = 'dblink'");
    if (available.rows.length === 0) return; // the nextval trigger above covers the same path
    const url = new URL(db.url);
    const conninfo = `host=${url.hostname} port=${url.port} dbname=${db.name} user=${decodeURIComponent(url.username)} password=${decodeURIComponent(url.password)}`;
    await db.admin.query(`
      CREATE EXTENSION IF NOT EXISTS dblink;
      DROP TABLE IF EXISTS tickets; DROP TABLE IF EXISTS ticket_log;
      CREATE TABLE ticket_log (id int);
      CREATE TABLE tickets (id int PRIMARY KEY, status text);
      INSERT INTO tickets VALUES (1, 'open'), (2, 'open');
      CREATE OR REPLACE FUNCTION ticket_log() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM dblink_exec('${conninfo.replaceAll("'", "''")}', format('INSERT INTO ticket_log VALUES (%s)', NEW.id));
          RETURN NEW;
        END $$;
      CREATE TRIGGER tickets_log BEFORE UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION ticket_log();`);
    const step = action("UPDATE tickets SET status = 'closed' WHERE status = 'open';");
    const plan = await computePlan(pool, target, step, []);
    expect(plan).toMatchObject({
      mode: 'dml',
      affectedRows: 2,
      notFired: ['trigger tickets_log on tickets'],
    });
    const logged = await db.admin.query('SELECT count(*)::int AS n FROM ticket_log');
    expect(logged.rows[0].n).toBe(0);
  });

  it('describes, without running, DML that would fire a trigger it cannot count around or reach a shadowing overload', async () => {
    await db.admin.query(`
      DROP TABLE IF EXISTS journal; DROP SEQUENCE IF EXISTS journal_audit;
      CREATE SEQUENCE journal_audit;
      CREATE TABLE journal (id int, entry text);
      CREATE FUNCTION journal_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM nextval('journal_audit'); RETURN NEW; END $$;
      CREATE TRIGGER journal_audit AFTER INSERT ON journal FOR EACH ROW EXECUTE FUNCTION journal_audit();
      CREATE OR REPLACE FUNCTION public.lower(integer) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN PERFORM nextval('journal_audit'); RETURN $1::text; END $$;`);
    const audits = async () =>
      (await db.admin.query<{ called: boolean }>('SELECT is_called AS called FROM journal_audit')).rows[0]!
        .called;
    const insert = action("INSERT INTO journal VALUES (1, 'x');");
    const insertPlan = await computePlan(pool, target, insert, []);
    expect(insertPlan).toMatchObject({ mode: 'statement' });
    expect(insertPlan.summary).toBe(
      'INSERT not run for the preview: it would fire trigger journal_audit on journal',
    );
    const shadowed = action('UPDATE journal SET entry = lower(1) WHERE id = 1;');
    const shadowedPlan = await computePlan(pool, target, shadowed, []);
    expect(shadowedPlan.mode).toBe('statement');
    // Its body is read: the nextval it would call is named.
    expect(shadowedPlan.summary).toContain('function public.lower(integer) calls nextval');
    expect(await audits()).toBe(false);
    await db.admin.query('DROP FUNCTION public.lower(integer)');
  });

  it('refuses to preview a signal whose FROM reads a view that acts', async () => {
    await db.admin.query(`
      CREATE OR REPLACE VIEW reloading_sessions AS
        SELECT pid FROM pg_stat_activity WHERE pg_reload_conf() AND datname = current_database()`);
    const loaded = async () =>
      (await db.admin.query<{ at: string }>('SELECT pg_conf_load_time()::text AS at')).rows[0]!.at;
    const before = await loaded();
    const step = action('SELECT pg_terminate_backend(pid) FROM reloading_sessions;');
    await expect(computePlan(pool, target, step, [])).rejects.toThrow(
      'which backends it would signal cannot be evaluated safely on this target: view public.reloading_sessions calls pg_reload_conf, which reloads the server configuration',
    );
    expect(await loaded()).toBe(before);
  });

  describe('scope and limits stated in the plan', () => {
    /** Seed 002's "kill idle connections" as written (no datname), narrowed to this test's role. */
    const terminateIdleOfRole = () => `
SELECT pg_terminate_backend(pid)
FROM pg_stat_activity
WHERE state = 'idle'
AND usename = '${role}'
AND query_start < now() - interval '0 seconds';`;

    it("signals only the target database's backends, and lists each backend's database", async () => {
      const other = await createTestDatabase(server.url, { demoSchema: false });
      const here = await openSession(userUrl, 'victim');
      const elsewhere = await openSession(
        withDatabase(server.url, other.name, { user: role, password: 'victim-pw' }),
        'victim',
      );
      try {
        await here.query('SELECT 1');
        await elsewhere.query('SELECT 1');
        const [herePid, elsewherePid] = [await pidOf(here), await pidOf(elsewhere)];
        const step = action(terminateIdleOfRole());

        const plan = await computePlan(pool, target, step, []);
        expect(plan.backends?.map((backend) => [backend.pid, backend.database])).toEqual([
          [herePid, db.name],
        ]);
        expect(plan.excluded).toContainEqual({ pid: elsewherePid, reason: 'another database' });
        expect(plan.signalScope).toEqual({ scope: 'database', database: db.name });
        expect(plan.summary).toBe(
          `would terminate 1 backend of database ${db.name} (1 more excluded: another database)`,
        );
        const result = await executeAction(pool, target, step, [], plan);
        expect(result).toMatchObject({ status: 'succeeded', signalled: [herePid] });
        await eventually(async () => (await alive([herePid])).length === 0);
        expect((await elsewhere.query('SELECT 1 AS alive')).rows[0].alive).toBe(1);

        // signal_scope=server: the runbook says so, and the plan lists both databases.
        const again = await openSession(userUrl, 'victim');
        try {
          await again.query('SELECT 1');
          const againPid = await pidOf(again);
          const wide: ActionStep = { ...step, signalScope: 'server' };
          const widePlan = await computePlan(pool, target, wide, []);
          expect(widePlan.backends?.map((backend) => [backend.pid, backend.database])).toEqual(
            [
              [againPid, db.name],
              [elsewherePid, other.name],
            ].sort((a, b) => Number(a[0]) - Number(b[0])),
          );
          expect(widePlan.summary).toMatch(/of any database on the server \(signal_scope=server\)/);
          const wideResult = await executeAction(pool, target, wide, [], widePlan);
          expect(wideResult).toMatchObject({
            status: 'succeeded',
            signalled: sorted([againPid, elsewherePid]),
          });
          await eventually(async () => (await alive([againPid, elsewherePid])).length === 0);
        } finally {
          await close(again);
        }
      } finally {
        await Promise.all([here, elsewhere].map(close));
        await other.drop();
      }
    });

    it('is nothing to do when no backend would be signalled, and nothing done when they have gone', async () => {
      const step = action(terminateIdleOfRole());
      const none = await computePlan(pool, target, step, []);
      expect(none.backends).toEqual([]);
      expect(none.blocked).toEqual({
        kind: 'nothing_to_do',
        reason: `no backend of database ${db.name} matches, or every match is one the bot never signals`,
      });
      expect(none.summary).toMatch(/^nothing to do: /);

      const victim = await openSession(userUrl, 'victim');
      await victim.query('SELECT 1');
      const victimPid = await pidOf(victim);
      const plan = await computePlan(pool, target, step, []);
      expect(plan.blocked).toBeUndefined();
      await close(victim);
      await eventually(async () => (await alive([victimPid])).length === 0);
      const result = await executeAction(pool, target, step, [], plan);
      expect(result).toMatchObject({ status: 'nothing_done', signalled: [] });
    });

    it('is nothing to do, with no approval to ask for, when every match is excluded', async () => {
      // The demo's faults once ran as the superuser: "would terminate 0 backends (1 more
      // excluded: a superuser)" and still a request to approve.
      const application = `superuser-${randomBytes(3).toString('hex')}`;
      const superuser = await openSession(db.url, application);
      try {
        await superuser.query('SELECT 1');
        const step = action(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${application}';`,
        );
        const plan = await computePlan(pool, target, step, []);
        expect(plan.backends).toEqual([]);
        expect(plan.excluded).toEqual([{ pid: await pidOf(superuser), reason: 'a superuser' }]);
        expect(plan.blocked?.kind).toBe('nothing_to_do');
        expect(plan.summary).toMatch(/^nothing to do: .*\(1 more excluded: a superuser\)$/);
      } finally {
        await close(superuser);
      }
    });

    it('states the row limit (target, else procedure) and blocks a plan over it before approval', async () => {
      await resetItems();
      const step = action("UPDATE items SET status = 'queued' WHERE status = 'stuck';");
      const plan = await computePlan(pool, target, step, []);
      expect(plan.rowLimit).toEqual({ rows: 1000, setBy: `target ${target.name}` });
      expect(plan.blocked).toBeUndefined();

      const strict = { ...target, settings: { ...target.settings, maxRows: 2 } };
      const over = await computePlan(pool, strict, step, []);
      expect(over.rowLimit).toEqual({ rows: 2, setBy: `target ${target.name}` });
      expect(over.blocked).toEqual({
        kind: 'over_limit',
        reason: `it would change 3 rows, more than its limit of 2 (set by target ${target.name}). Narrow its WHERE, or raise max_rows for the procedure (annotation) or the target (targets file); or let it run in batches of at most 2 rows, each committed on its own (batched=yes on the procedure, or batched_dml on the target)`,
      });
      // Executed anyway (an old approval, a limit lowered since): not run.
      expect(await executeAction(pool, strict, step, [], plan)).toMatchObject({ status: 'aborted' });
      expect(await statusCounts()).toEqual({ stuck: 3, done: 7 });

      // The procedure's max_rows= wins over the target's.
      const annotated: ActionStep = { ...step, maxRows: 5 };
      const allowed = await computePlan(pool, strict, annotated, []);
      expect(allowed.rowLimit).toEqual({ rows: 5, setBy: 'the procedure (max_rows=)' });
      expect(allowed.blocked).toBeUndefined();
      expect(await executeAction(pool, strict, annotated, [], allowed)).toMatchObject({
        status: 'succeeded',
        affectedRows: 3,
      });
    });

    it('raises the risk of DML that would change 100 rows or more', async () => {
      await db.admin.query(`
        DROP TABLE IF EXISTS many;
        CREATE TABLE many (id int PRIMARY KEY, status text NOT NULL);
        INSERT INTO many SELECT i, 'queued' FROM generate_series(1, 150) AS i;`);
      const wide = await computePlan(
        pool,
        target,
        action("UPDATE many SET status = 'failed' WHERE id > 0;"),
        [],
      );
      expect(wide.riskRaised).toBe('it would change 150 rows (100 or more)');
      const narrow = await computePlan(
        pool,
        target,
        action("UPDATE many SET status = 'failed' WHERE id <= 99;"),
        [],
      );
      expect(narrow.riskRaised).toBeUndefined();
    });

    it('previews an IF EXISTS on a missing object as nothing to do, from the catalog', async () => {
      await resetItems();
      await db.admin.query(`
        CREATE INDEX items_status_idx ON items (status);
        CREATE FUNCTION items_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION items_touch();`);
      const planOf = (sql: string) => computePlan(pool, target, action(sql), []);
      const cases: Array<[string, string | undefined]> = [
        // Seed 000's template, as written: neither the trigger nor the table exists.
        [
          'DROP TRIGGER IF EXISTS trigger_name ON table_name;',
          'trigger trigger_name on table_name does not exist',
        ],
        ['DROP TRIGGER IF EXISTS trigger_name ON items;', 'trigger trigger_name on items does not exist'],
        ['DROP TRIGGER IF EXISTS items_touch ON items;', undefined],
        ['DROP INDEX IF EXISTS no_such_idx;', 'index no_such_idx does not exist'],
        ['DROP INDEX IF EXISTS items_status_idx;', undefined],
        ['DROP INDEX CONCURRENTLY IF EXISTS public.no_such_idx;', 'index public.no_such_idx does not exist'],
        [
          'DROP TABLE IF EXISTS no_such_table, other_missing;',
          'table no_such_table, table other_missing do not exist',
        ],
        ['DROP FUNCTION IF EXISTS no_such_fn(int);', 'function no_such_fn does not exist'],
        ['DROP FUNCTION IF EXISTS items_touch();', undefined],
        ['ALTER TABLE IF EXISTS no_such_table ADD COLUMN note text;', 'no_such_table does not exist'],
        ['CREATE INDEX IF NOT EXISTS items_status_idx ON items (status);', 'items_status_idx already exists'],
        ['CREATE INDEX IF NOT EXISTS items_name_idx ON items (name);', undefined],
      ];
      for (const [sql, nothing] of cases) {
        const plan = await planOf(sql);
        expect([sql, plan.blocked]).toEqual([
          sql,
          nothing === undefined ? undefined : { kind: 'nothing_to_do', reason: nothing },
        ]);
      }
      // Without IF EXISTS Postgres would fail, not skip: it cannot run, and the preview says so.
      expect((await planOf('DROP INDEX no_such_idx;')).blocked).toEqual({
        kind: 'missing_objects',
        reason: `index no_such_idx does not exist on ${target.name}`,
      });
      expect((await planOf('ALTER TABLE itemz ADD COLUMN note text;')).blocked).toEqual({
        kind: 'missing_objects',
        reason: `table itemz does not exist on ${target.name} (did you mean items?)`,
      });
      const partly = await planOf('DROP INDEX IF EXISTS items_status_idx, no_such_idx;');
      expect(partly.blocked).toBeUndefined();
      expect(partly.summary).toMatch(/; would skip index no_such_idx \(missing\)$/);
    });

    it('does not call missing what an earlier step of the procedure creates, but runs it only once that exists', async () => {
      const create = action(
        'CREATE TABLE rb_notes (id int PRIMARY KEY, parent int REFERENCES rb_notes (id), body text);',
      );
      const index = action('CREATE INDEX rb_notes_body_idx ON rb_notes (body);');
      // A table referring to itself while being created names nothing missing.
      expect((await computePlan(pool, target, create, [])).blocked).toBeUndefined();
      expect((await computePlan(pool, target, index, [])).blocked).toEqual({
        kind: 'missing_objects',
        reason: `table rb_notes does not exist on ${target.name}`,
      });
      const plan = await computePlan(pool, target, index, [], undefined, [], [create]);
      expect(plan.blocked).toBeUndefined();
      // Approved before the earlier step ran: execution finds the table missing and runs nothing.
      expect(await executeAction(pool, target, index, [], plan)).toMatchObject({
        status: 'aborted',
        reason: `table rb_notes does not exist on ${target.name}`,
      });
    });

    it('does not run a DROP … IF EXISTS whose object went after approval, and says nothing was done', async () => {
      await resetItems();
      await db.admin.query(`
        CREATE OR REPLACE FUNCTION items_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        DROP TRIGGER IF EXISTS items_touch ON items;
        CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION items_touch();`);
      const step = action('DROP TRIGGER IF EXISTS items_touch ON items;');
      const plan = await computePlan(pool, target, step, []);
      expect(plan.blocked).toBeUndefined();
      await db.admin.query('DROP TRIGGER items_touch ON items');
      expect(await executeAction(pool, target, step, [], plan)).toMatchObject({
        status: 'nothing_done',
        summary: 'nothing left to do (trigger items_touch on items does not exist); nothing was run',
      });
    });

    it('reports DML that changed no rows as nothing done, not succeeded', async () => {
      await resetItems();
      const step = action("UPDATE items SET status = 'queued' WHERE id = 1 AND status = 'stuck';");
      const plan = await computePlan(pool, target, step, []);
      expect(plan.affectedRows).toBe(1);
      await db.admin.query("UPDATE items SET status = 'done' WHERE id = 1");
      // 1 → 0 is within the allowed drift: the re-check finds nothing to do and runs nothing.
      expect(await executeAction(pool, target, step, [], plan)).toMatchObject({
        status: 'nothing_done',
        affectedRows: 0,
        summary: 'nothing left to do (it would change no rows); nothing was run',
      });
    });
  });

  it('fails fast on lock_timeout and changes nothing', async () => {
    await resetItems();
    const alter = action('ALTER TABLE items ADD COLUMN note text;');
    const update = action("UPDATE items SET status = 'queued' WHERE status = 'stuck';");
    const alterPlan = await computePlan(pool, target, alter, []);
    expect(alterPlan).toMatchObject({ mode: 'statement', lockLevel: 'ACCESS EXCLUSIVE' });
    const updatePlan = await computePlan(pool, target, update, []);

    const locker = await openSession(db.url, 'locker');
    try {
      await locker.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
      for (const [step, plan] of [
        [alter, alterPlan],
        [update, updatePlan],
      ] as Array<[ActionStep, Plan]>) {
        const started = Date.now();
        const result = await executeAction(pool, target, step, [], plan);
        expect(result.status).toBe('failed');
        if (result.status !== 'failed') throw new Error('unreachable');
        expect(result.error).toMatch(/lock timeout/);
        expect(Date.now() - started).toBeLessThan(3000);
      }
      await locker.query('ROLLBACK');
    } finally {
      await close(locker);
    }
    const { rows } = await db.admin.query(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'",
    );
    expect(rows).toEqual([]);
    expect(await statusCounts()).toEqual({ stuck: 3, done: 7 });
    // The pool still works: failed connections were discarded, not reused mid-transaction.
    const again = await computePlan(pool, target, update, []);
    expect(again.affectedRows).toBe(3);
  });
});
