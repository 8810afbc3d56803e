import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findingProcedureRuns } from '../../src/health/findingProcedures.js';
import { DEFAULT_LIMITS, executeAction } from '../../src/remediation/execute.js';
import { computePlan } from '../../src/remediation/plan.js';
import { runProcedureChecks } from '../../src/runbooks/execute/procedureChecks.js';
import { resolveIdentifiers } from '../../src/runbooks/identifiers.js';
import type { ActionStep, CheckStep, Statement } from '../../src/runbooks/model.js';
import { parseAssignments, splitCommandWords } from '../../src/runbooks/procedureParams.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import { analyzeSqlBlock, loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { TargetPools } from '../../src/targets/pools.js';
import type { Target } from '../../src/targets/target.js';
import { action } from '../support/actionSteps.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../support/databases.js';
import { finding, health } from '../support/health.js';

/*
 * Identifier parameters against real servers: a name is found in the target's catalog (or
 * refused with a close name), quoted and spliced; the plan shows and hashes the statement as
 * it runs, and execution runs exactly that.
 */
const servers = inject('postgresServers');

function statementOf(sql: string): Statement {
  const analysis = analyzeSqlBlock(sql);
  if (!analysis.ok) throw new Error(analysis.error);
  return analysis.statements[0]!.statement;
}

describe.each(servers)('identifier parameters on $label', (server) => {
  let db: TestDatabase;
  let pools: TargetPools;
  let target: Target;

  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server.url, { demoSchema: false });
    await db.admin.query(`
      CREATE SCHEMA shop;
      CREATE TABLE shop.orders (id int PRIMARY KEY, total int);
      CREATE TABLE "Order Lines" (id int);
      CREATE INDEX orders_total_idx ON shop.orders (total);
      CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER orders_bump_a BEFORE INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION bump();
      CREATE TRIGGER orders_bump_b BEFORE INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION bump();`);
    target = testTarget(db.url);
    pools = new TargetPools();
  });
  afterAll(async () => {
    await pools?.closeAll();
    await db?.drop();
  });

  /**
   * What a person does with a finding's run: its diagnosis (the first check's first column),
   * then its drop resolved, planned and executed.
   */
  async function followFinding(run: string) {
    const [reference, ...words] = splitCommandWords(run);
    const { values } = parseAssignments(words);
    const { procedure } = (await RunbookLibrary.load(runbookSources())).library.resolveProcedure(reference!);
    const [diagnosis] = await runProcedureChecks(pools.readOnly(target), target, procedure.steps, values);
    const drop = procedure.steps.find((step): step is ActionStep => step.kind === 'action')!;
    const pool = pools.remediation(target);
    const resolved = await resolveIdentifiers(pool, drop.statement, values);
    if (!resolved.ok) throw new Error(resolved.problems.join('; '));
    const step = { ...drop, statement: resolved.statement };
    const plan = await computePlan(pool, target, step, []);
    const { status } = await executeAction(pool, target, step, [], plan, DEFAULT_LIMITS);
    return {
      values,
      procedure,
      drop,
      diagnosis: diagnosis?.result?.rows.map((row) => row[0]),
      sql: plan.sql,
      status,
    };
  }

  it('splices a name found in the catalog, quoted part by part', async () => {
    const pool = pools.remediation(target);
    const vacuum = statementOf('VACUUM (ANALYZE) <schema>.<table>');
    const resolved = await resolveIdentifiers(pool, vacuum, { schema: 'shop', table: 'orders' });
    expect(resolved).toMatchObject({ ok: true, statement: { sql: 'VACUUM (ANALYZE) "shop"."orders"' } });
    const dotted = await resolveIdentifiers(pool, statementOf('VACUUM <table>'), { table: 'shop.orders' });
    expect(dotted).toMatchObject({ ok: true, statement: { sql: 'VACUUM "shop"."orders"' } });
    const quoted = await resolveIdentifiers(pool, statementOf('ANALYZE <table>'), { table: '"Order Lines"' });
    expect(quoted).toMatchObject({ ok: true, statement: { sql: 'ANALYZE "Order Lines"' } });
  });

  it('refuses a name the catalog does not have, suggesting the closest, and never splices it', async () => {
    const pool = pools.remediation(target);
    const reindex = statementOf('REINDEX INDEX shop.[index]');
    const missing = await resolveIdentifiers(pool, reindex, { index: 'orders_totl_idx' });
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.problems[0]).toMatch(
      /no index shop\.orders_totl_idx .*Did you mean orders_total_idx\?/,
    );
    // A table is not an index: the kind is part of the lookup.
    const wrongKind = await resolveIdentifiers(pool, reindex, { index: 'orders' });
    expect(wrongKind.ok).toBe(false);
    const hostile = await resolveIdentifiers(pool, statementOf('VACUUM <table>'), {
      table: 'orders; DROP TABLE x',
    });
    expect(!hostile.ok && hostile.problems[0]).toMatch(/table must be a table name/);
    const trigger = await resolveIdentifiers(pool, statementOf('DROP TRIGGER <trigger> ON shop.<table>'), {
      trigger: 'orders_bump_c',
      table: 'orders',
    });
    expect(!trigger.ok && trigger.problems.join(' ')).toMatch(/Did you mean orders_bump_a, orders_bump_b\?/);
    const requalified = await resolveIdentifiers(pool, statementOf('VACUUM shop.<table>'), {
      table: 'public.x',
    });
    expect(!requalified.ok && requalified.problems[0]).toMatch(/takes the name alone/);
  });

  it("finds a trigger on the table the statement names, suggesting that table's triggers", async () => {
    await db.admin.query(`
      CREATE TABLE shop.returns (id int);
      CREATE TRIGGER orders_bump_z BEFORE INSERT ON shop.returns FOR EACH ROW EXECUTE FUNCTION bump();`);
    const pool = pools.remediation(target);
    const drop = statementOf('DROP TRIGGER <trigger> ON shop.<table>');
    // orders_bump_z exists, but on shop.returns: dropping it "on orders" would fail at execution.
    const elsewhere = await resolveIdentifiers(pool, drop, { trigger: 'orders_bump_z', table: 'orders' });
    expect(!elsewhere.ok && elsewhere.problems).toEqual([
      "trigger: no trigger orders_bump_z on table shop.orders on this target. Did you mean orders_bump_a, orders_bump_b? Give trigger=<an existing trigger on table shop.orders> (names are matched exactly, as format('%I') quotes them)",
    ]);
    expect(
      await resolveIdentifiers(pool, drop, { trigger: 'orders_bump_z', table: 'returns' }),
    ).toMatchObject({
      ok: true,
      statement: { sql: 'DROP TRIGGER "orders_bump_z" ON shop."returns"' },
    });
    // The table as another parameter, qualified or with its schema beside it; ALTER TABLE … TRIGGER too.
    const qualified = await resolveIdentifiers(pool, statementOf('DROP TRIGGER <trigger> ON <table>'), {
      trigger: 'orders_bump_a',
      table: 'shop.returns',
    });
    expect(!qualified.ok && qualified.problems[0]).toMatch(
      /no trigger orders_bump_a on table shop\.returns .*Did you mean orders_bump_z\?/,
    );
    const enable = statementOf('ALTER TABLE <schema>.<table> ENABLE TRIGGER <trigger>');
    const enabled = await resolveIdentifiers(pool, enable, {
      schema: 'shop',
      table: 'orders',
      trigger: 'orders_bump_z',
    });
    expect(!enabled.ok && enabled.problems[0]).toMatch(/no trigger orders_bump_z on table shop\.orders/);
    expect(
      await resolveIdentifiers(pool, enable, { schema: 'shop', table: 'returns', trigger: 'orders_bump_z' }),
    ).toMatchObject({ ok: true });
    await db.admin.query('DROP TABLE shop.returns');
  });

  it('previews and executes the statement exactly as spliced; the plan hash covers the name', async () => {
    const pool = pools.remediation(target);
    const step = action('DROP TRIGGER <trigger> ON shop.<table>');
    const resolve = async (trigger: string) => {
      const resolved = await resolveIdentifiers(pool, step.statement, { trigger, table: 'orders' });
      if (!resolved.ok) throw new Error(resolved.problems.join('; '));
      return { ...step, statement: resolved.statement };
    };
    const dropB = await resolve('orders_bump_b');
    const plan = await computePlan(pool, target, dropB, []);
    expect(plan.sql).toBe('DROP TRIGGER "orders_bump_b" ON shop."orders"');
    const other = await computePlan(pool, target, await resolve('orders_bump_a'), []);
    expect(other.hash).not.toBe(plan.hash);
    // An approval for one trigger does not run another.
    const mismatch = await executeAction(
      pool,
      target,
      await resolve('orders_bump_a'),
      [],
      plan,
      DEFAULT_LIMITS,
    );
    expect(mismatch.status).toBe('changed');
    const result = await executeAction(pool, target, dropB, [], plan, DEFAULT_LIMITS);
    expect(result.status).toBe('succeeded');
    const { rows } = await db.admin.query<{ tgname: string }>(
      "SELECT tgname FROM pg_trigger WHERE tgrelid = 'shop.orders'::regclass AND NOT tgisinternal ORDER BY 1",
    );
    expect(rows.map((row) => row.tgname)).toEqual(['orders_bump_a']);
  });

  it('runs a check that names a table by parameter once the catalog has it, and says why not otherwise', async () => {
    const analysis = analyzeSqlBlock('SELECT count(*) AS n FROM <schema>.<table>');
    if (!analysis.ok) throw new Error(analysis.error);
    expect(analysis.statements[0]!.class).toBe('check');
    const check: CheckStep = {
      kind: 'check',
      id: '1',
      title: 'count',
      role: 'diagnose',
      source: { file: 'test.md', line: 1 },
      statement: analysis.statements[0]!.statement,
    };
    const pool = pools.readOnly(target);
    const [ran] = await runProcedureChecks(pool, target, [check], { schema: 'shop', table: 'orders' });
    expect(ran?.result).toMatchObject({ status: 'ok', columns: ['n'], rows: [['0']] });
    const [refused] = await runProcedureChecks(pool, target, [check], { schema: 'shop', table: 'order' });
    expect(refused?.result?.status).toBe('error');
    expect(refused?.result?.error).toMatch(/no table shop\.order on this target\. Did you mean orders\?/);
  });

  it("duplicate_triggers: the finding's procedure drops the duplicate it found, and only that", async () => {
    await db.admin.query(`
      CREATE TABLE public.jobs (id int);
      CREATE TRIGGER jobs_sync BEFORE INSERT ON public.jobs FOR EACH ROW EXECUTE FUNCTION bump();
      CREATE TRIGGER jobs_sync_again BEFORE INSERT ON public.jobs FOR EACH ROW EXECUTE FUNCTION bump();`);
    const report = await health(target, { only: ['duplicate_triggers'] });
    const runs = findingProcedureRuns(finding(report, 'duplicate_triggers'));
    const run = runs.find((candidate) => candidate.includes('table=jobs'));
    expect(run).toBe(
      'postgres-health#drop-duplicate-trigger schema=public table=jobs trigger=jobs_sync_again',
    );
    const followed = await followFinding(run!);
    // Its diagnosis lists the table's triggers.
    expect(followed.diagnosis).toEqual(['jobs_sync', 'jobs_sync_again']);
    expect(followed.sql).toBe('DROP TRIGGER "jobs_sync_again" ON "public"."jobs"');
    expect(followed.status).toBe('succeeded');
    const after = finding(await health(target, { only: ['duplicate_triggers'] }), 'duplicate_triggers');
    expect(after.evidence.some((row) => row.table === 'jobs')).toBe(false);
    const { rows } = await db.admin.query<{ tgname: string }>(
      "SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.jobs'::regclass ORDER BY 1",
    );
    expect(rows.map((row) => row.tgname)).toEqual(['jobs_sync']);
  });

  it('drop-duplicate-trigger: a table "Orders" in a schema "my-shop", compared by the catalog\'s names', async () => {
    await db.admin.query(`
      CREATE SCHEMA "my-shop";
      CREATE TABLE "my-shop"."Orders" (id int);
      CREATE TABLE "my-shop".orders (id int);
      CREATE FUNCTION "my-shop".touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER "Sync" BEFORE INSERT ON "my-shop"."Orders" FOR EACH ROW EXECUTE FUNCTION "my-shop".touch();
      CREATE TRIGGER "Sync Again" BEFORE INSERT ON "my-shop"."Orders" FOR EACH ROW EXECUTE FUNCTION "my-shop".touch();
      CREATE TRIGGER lower_sync BEFORE INSERT ON "my-shop".orders FOR EACH ROW EXECUTE FUNCTION "my-shop".touch();`);
    const report = await health(target, { only: ['duplicate_triggers'] });
    // The check gives the catalog's names; the run quotes them as identifiers.
    const all = finding(report, 'duplicate_triggers');
    const found = { ...all, evidence: all.evidence.filter((row) => row.schema === 'my-shop') };
    expect(found.evidence[0]).toMatchObject({
      schema: 'my-shop',
      table: 'Orders',
      second_trigger: 'Sync Again',
    });
    const [run] = findingProcedureRuns(found);
    expect(run).toBe(
      `postgres-health#drop-duplicate-trigger schema='"my-shop"' table='"Orders"' trigger='"Sync Again"'`,
    );
    const followed = await followFinding(run!);
    // The diagnosis lists the triggers of "Orders", not of orders (nor none, as '"Orders"' would).
    expect(followed.diagnosis).toEqual(['Sync', 'Sync Again']);
    expect(followed.sql).toBe('DROP TRIGGER "Sync Again" ON "my-shop"."Orders"');
    expect(followed.status).toBe('succeeded');
    // Typed by hand unquoted, the names are the same catalog names.
    const [typed] = await runProcedureChecks(pools.readOnly(target), target, followed.procedure.steps, {
      schema: 'my-shop',
      table: 'Orders',
      trigger: 'Sync',
    });
    expect(typed?.result?.rows.map((row) => row[0])).toEqual(['Sync']);
    // lower_sync is orders' trigger, not "Orders'": refused, with the right table's triggers.
    const wrong = await resolveIdentifiers(pools.remediation(target), followed.drop.statement, {
      ...followed.values,
      trigger: 'lower_sync',
    });
    expect(!wrong.ok && wrong.problems[0]).toMatch(
      /no trigger lower_sync on table my-shop\.Orders on this target/,
    );
    const { rows } = await db.admin.query<{ tgname: string }>(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = '"my-shop"."Orders"'::regclass ORDER BY 1`,
    );
    expect(rows.map((row) => row.tgname)).toEqual(['Sync']);
  });
});
