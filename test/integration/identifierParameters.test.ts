import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_LIMITS, executeAction } from '../../src/remediation/execute.js';
import { computePlan } from '../../src/remediation/plan.js';
import { resolveIdentifiers } from '../../src/runbooks/identifiers.js';
import type { ActionStep, Statement } from '../../src/runbooks/model.js';
import { analyzeSqlBlock, loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { TargetPools } from '../../src/targets/pools.js';
import type { Target } from '../../src/targets/target.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../support/databases.js';

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

function action(sql: string): ActionStep {
  const analysis = analyzeSqlBlock(sql);
  if (!analysis.ok) throw new Error(analysis.error);
  const [analyzed] = analysis.statements;
  if (analyzed?.class !== 'action') throw new Error(`not an action: ${sql}`);
  return {
    kind: 'action',
    id: '1',
    title: 'action',
    role: 'remediate',
    source: { file: 'test.md', line: 1 },
    statement: analyzed.statement,
    risk: analyzed.risk ?? 'medium',
    riskReasons: analyzed.riskReasons,
    actionReasons: analyzed.actionReasons,
    noTransaction: analyzed.noTransaction,
  };
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
});
