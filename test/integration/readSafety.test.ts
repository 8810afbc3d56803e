import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runProcedureChecks } from '../../src/runbooks/execute/procedureChecks.js';
import { readSafety, vouchedFunctions } from '../../src/runbooks/execute/readSafety.js';
import { type CheckResult, runChecks } from '../../src/runbooks/execute/runChecks.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { CheckStep } from '../../src/runbooks/model.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import { analyzeSqlBlock, loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { TargetPools } from '../../src/targets/pools.js';
import type { Target } from '../../src/targets/target.js';
import { cli } from '../support/cli.js';
import { createTestDatabase, openSession, type TestDatabase, testTarget } from '../support/databases.js';

/*
 * Checks never act through objects in the target (issue 14, section 3). Each statement below
 * is one the classifier calls a Check from its text alone; on this target a view, an overload
 * or a policy makes it act where BEGIN READ ONLY does not stop it. Each effect is observed
 * from outside: a victim session still alive, the configuration not reloaded.
 */
const servers = inject('postgresServers');

/** A runbook SQL block's statement as the loader makes it a CheckStep (must be one). */
function check(sql: string, annotation = ''): CheckStep {
  const analysis = analyzeSqlBlock(sql, { readOnlyFunctions: annotation ? [annotation] : [] });
  if (!analysis.ok) throw new Error(analysis.error);
  const [statement] = analysis.statements;
  if (statement?.class !== 'check') throw new Error(`the classifier does not call it a check: ${sql}`);
  return {
    kind: 'check',
    id: '1',
    title: 'check',
    role: 'diagnose',
    source: { file: 'test.md', line: 1 },
    statement: statement.statement,
  };
}

const VICTIM = 'rb-victim';

const TARGET_OBJECTS = `
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
  INSERT INTO items VALUES (1, 'One'), (2, 'Two');
  CREATE VIEW v_kill AS
    SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = '${VICTIM}';
  CREATE VIEW v_reload AS SELECT pg_reload_conf() AS reloaded;
  CREATE VIEW v_outer AS SELECT * FROM v_kill;
  -- Declared IMMUTABLE, which PostgreSQL takes on trust: it signals all the same.
  CREATE FUNCTION public.lower(integer) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
      PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${VICTIM}';
      RETURN $1::text;
    END $$;
  -- A SQL function declared STABLE whose body reloads the configuration.
  CREATE FUNCTION public.settings_age() RETURNS interval LANGUAGE sql STABLE AS
    $$ SELECT now() - pg_conf_load_time() FROM (SELECT pg_reload_conf()) AS r $$;
  CREATE VIEW v_settings AS SELECT settings_age() AS age;
  -- The same with a BEGIN ATOMIC body (PostgreSQL 14+), stored parsed rather than as text.
  CREATE FUNCTION public.atomic_reload() RETURNS boolean LANGUAGE sql STABLE
    BEGIN ATOMIC SELECT pg_reload_conf(); END;
  CREATE VIEW v_atomic AS SELECT atomic_reload() AS reloaded;
  CREATE VIEW v_fine AS SELECT id, upper(name) AS name FROM items WHERE id > 0;
  CREATE FUNCTION public.item_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM items $$;
  CREATE VIEW v_count AS SELECT item_count() AS n;
  CREATE TABLE secrets (id int, owner text);
  ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
  CREATE POLICY leak ON secrets USING (pg_reload_conf());
`;

/** A team runbook whose checks read as checks and act through the target's objects. */
const GATE_RUNBOOK = `# Gate Runbook

## Read the views

\`\`\`sql
-- Sessions ended by the view
SELECT * FROM v_kill;
-- Reload through a view
SELECT * FROM v_reload;
-- Shadowed lower
SELECT lower(1) AS l;
-- Items
SELECT name FROM v_fine ORDER BY id;
\`\`\`
`;

describe.each(servers)('the built-in library on the demo schema, on $label', (server) => {
  let db: TestDatabase;
  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server.url);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('every check of the built-in runbooks is still a check: the gate refuses only what can act', async () => {
    const { library } = await RunbookLibrary.load(runbookSources());
    const refused: string[] = [];
    let judged = 0;
    for (const { procedure } of library.procedures())
      for (const step of procedure.steps) {
        if (step.kind !== 'check') continue;
        judged += 1;
        const safety = await readSafety(
          db.admin,
          step.statement.sql,
          vouchedFunctions(step.statement.functions),
        );
        if (!safety.safe) refused.push(`${procedure.id} ${step.title}: ${safety.reasons.join('; ')}`);
      }
    expect(judged).toBeGreaterThan(20);
    expect(refused).toEqual([]);
  });
});

describe.each(servers)('checks judged by what the target runs, on $label', (server) => {
  let db: TestDatabase;
  let pools: TargetPools;
  let target: Target;
  let victim: pg.Client;

  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server.url, { demoSchema: false });
    await db.admin.query(TARGET_OBJECTS);
    target = testTarget(db.url);
    pools = new TargetPools();
  });
  afterAll(async () => {
    await victim?.end().catch(() => undefined);
    await pools?.closeAll();
    await db?.drop();
  });

  async function victimAlive(): Promise<boolean> {
    const { rows } = await db.admin.query(
      'SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
      [VICTIM],
    );
    return rows.length > 0;
  }

  async function confLoadTime(): Promise<string> {
    const { rows } = await db.admin.query<{ at: string }>('SELECT pg_conf_load_time()::text AS at');
    return rows[0]!.at;
  }

  async function run(...steps: CheckStep[]): Promise<CheckResult[]> {
    return runChecks(
      pools.readOnly(target),
      target,
      steps.map((step) => ({ step, values: [] })),
    );
  }

  it('does not run a check through a view that terminates a backend, and says why', async () => {
    victim = await openSession(db.url, VICTIM);
    const [direct, nested] = await run(check('SELECT * FROM v_kill'), check('SELECT count(*) FROM v_outer'));
    expect(await victimAlive()).toBe(true);
    expect(direct).toMatchObject({ status: 'action', risk: 'high' });
    expect(direct!.actionReasons).toEqual([
      'view public.v_kill calls pg_terminate_backend, which terminates backends',
    ]);
    expect(nested!.status).toBe('action');
    expect(nested!.actionReasons?.[0]).toBe(
      'view public.v_outer → view public.v_kill calls pg_terminate_backend, which terminates backends',
    );
  });

  it('does not reload the configuration through a view, a SQL function or a row-level security policy', async () => {
    const before = await confLoadTime();
    const results = await run(
      check('SELECT * FROM v_reload'),
      check('SELECT age FROM v_settings'),
      check('SELECT count(*) FROM secrets'),
      check('SELECT reloaded FROM v_atomic'),
    );
    expect(await confLoadTime()).toBe(before);
    expect(results.map((result) => result.status)).toEqual(['action', 'action', 'action', 'action']);
    expect(results[3]!.actionReasons?.[0]).toBe(
      'view public.v_atomic → function public.atomic_reload() calls pg_reload_conf, which reloads the server configuration',
    );
    expect(results[0]!.actionReasons).toEqual([
      'view public.v_reload calls pg_reload_conf, which reloads the server configuration',
    ]);
    expect(results[1]!.actionReasons?.[0]).toBe(
      'view public.v_settings → function public.settings_age() calls pg_reload_conf, which reloads the server configuration',
    );
    expect(results[2]!.actionReasons?.[0]).toBe(
      'a row-level security policy of public.secrets calls pg_reload_conf, which reloads the server configuration',
    );
  });

  it('does not run lower(1) when a user-defined lower(integer) shadows pg_catalog.lower', async () => {
    victim = await openSession(db.url, VICTIM);
    const [result] = await run(check('SELECT lower(1) AS l'));
    expect(await victimAlive()).toBe(true);
    expect(result!.status).toBe('action');
    expect(result!.actionReasons).toEqual([
      // Its body is read: IMMUTABLE did not stop it from signalling.
      'function public.lower(integer) calls pg_terminate_backend, which terminates backends',
    ]);
  });

  it('judges a quoted mixed-case name as itself, and a function called in attribute notation', async () => {
    await db.admin.query(`
      CREATE FUNCTION public."Lower"(integer) RETURNS text LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${VICTIM}';
          RETURN $1::text;
        END $$;
      -- items.kill is no column: PostgreSQL calls kill(items) for each row.
      CREATE FUNCTION public.kill(items) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${VICTIM}';
          RETURN true;
        END $$;`);
    // "Lower" is not the allowlisted lower: the text alone already makes it an action…
    const quoted = analyzeSqlBlock('SELECT "Lower"(1) AS l', { readOnlyFunctions: [] });
    expect(quoted.ok && quoted.statements[0]?.class).toBe('action');
    // …and the catalog gate judges the function by its real name.
    expect(await readSafety(db.admin, 'SELECT "Lower"(1) AS l')).toMatchObject({
      safe: false,
      reasons: [expect.stringContaining('public.Lower(integer)') as unknown as string],
    });
    victim = await openSession(db.url, VICTIM);
    const [attribute, parenthesized] = await run(
      check('SELECT i.kill FROM items AS i'),
      check('SELECT (i).kill FROM items AS i'),
    );
    expect(await victimAlive()).toBe(true);
    expect(attribute).toMatchObject({ status: 'action' });
    expect(attribute!.actionReasons?.[0]).toContain('public.kill(items)');
    expect(parenthesized).toMatchObject({ status: 'action' });
  });

  it('does not write through dblink_exec in a view', async () => {
    const { rows } = await db.admin.query("SELECT 1 FROM pg_available_extensions WHERE name = 'dblink'");
    if (rows.length === 0) return; // the escape-hatch list is unit-tested where dblink is missing
    const url = new URL(db.url);
    const conninfo = `host=${url.hostname} port=${url.port} dbname=${db.name} user=${decodeURIComponent(url.username)} password=${decodeURIComponent(url.password)}`;
    await db.admin.query(`
      CREATE EXTENSION IF NOT EXISTS dblink;
      CREATE TABLE written (n int);
      CREATE VIEW v_dblink AS SELECT dblink_exec('${conninfo.replaceAll("'", "''")}', 'INSERT INTO written VALUES (1)') AS done;`);
    const [result] = await run(check('SELECT * FROM v_dblink'));
    const written = await db.admin.query('SELECT count(*)::int AS n FROM written');
    expect(written.rows[0].n).toBe(0);
    expect(result!.status).toBe('action');
    expect(result!.actionReasons).toEqual([
      'view public.v_dblink calls public.dblink_exec, which runs SQL elsewhere',
    ]);
  });

  it('runbook-bot run runs none of them, prints why, and still runs the reading check', async () => {
    victim = await openSession(db.url, VICTIM);
    const before = await confLoadTime();
    const dir = mkdtempSync(join(tmpdir(), 'gate-runbooks-'));
    writeFileSync(join(dir, 'gate.md'), GATE_RUNBOOK);
    try {
      const result = await cli(['run', 'gate-runbook#read-the-views'], {
        TARGET_DATABASE_URL: db.url,
        RUNBOOKS_DIR: dir,
      });
      expect(await victimAlive()).toBe(true);
      expect(await confLoadTime()).toBe(before);
      expect(result.stdout).toContain(
        'not run: an action on this target (risk high), it needs a preview and approval in Slack\n' +
          '      view public.v_kill calls pg_terminate_backend, which terminates backends',
      );
      expect(result.stdout).toContain('view public.v_reload calls pg_reload_conf');
      expect(result.stdout).toContain('function public.lower(integer) calls pg_terminate_backend');
      expect(result.stdout).toMatch(/ONE\s+TWO/);
      expect(result.code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lint --target names each check the target would not run, and the role that is too strong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gate-lint-'));
    const file = join(dir, 'gate.md');
    writeFileSync(file, GATE_RUNBOOK);
    try {
      const result = await cli(['lint', '--target', 'default', file], { TARGET_DATABASE_URL: db.url });
      expect(result.stderr).toMatch(/warning: default: checks run as \w+, a superuser/);
      expect(result.stderr).toContain(
        `warning: ${file}:7: check "Sessions ended by the view" would not run as a check on default: view public.v_kill calls pg_terminate_backend, which terminates backends`,
      );
      expect(result.stderr).toContain('check "Shadowed lower" would not run as a check on default');
      expect(result.stderr).not.toContain('"Items"');
      expect(result.code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('decides at run time an action only unknown functions made: read-safe on the target, it runs as a check', async () => {
    await db.admin.query(`
      CREATE FUNCTION public.queue_report(max_age int) RETURNS TABLE(status text, n bigint)
        LANGUAGE plpgsql STABLE AS $$
        DECLARE total bigint;
        BEGIN
          SELECT count(*) INTO total FROM items;
          IF total > max_age THEN
            RAISE NOTICE 'many items: %', total;
          END IF;
          total := (SELECT count(*) FROM v_fine);
          RETURN QUERY SELECT i.name, total FROM items i ORDER BY i.id;
        END $$;
      CREATE FUNCTION public.item_names() RETURNS SETOF text LANGUAGE sql IMMUTABLE AS
        $$ SELECT 'a' UNION ALL SELECT 'b' $$;
      CREATE FUNCTION public.stamp_items() RETURNS int LANGUAGE plpgsql STABLE AS $$
        BEGIN UPDATE items SET name = name; RETURN 1; END $$;
      CREATE FUNCTION public.run_text(q text) RETURNS int LANGUAGE plpgsql STABLE AS $$
        BEGIN EXECUTE q; RETURN 1; END $$;
      CREATE FUNCTION public.clear_queue() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;`);
    const { procedures } = parseRunbook(
      [
        '# Diagnostics',
        '## Report',
        '```sql',
        '-- Queue report',
        'SELECT * FROM queue_report(1);',
        '-- Names',
        'SELECT * FROM item_names();',
        '-- Stamp',
        'SELECT stamp_items();',
        '-- Dynamic',
        "SELECT run_text('SELECT 1');",
        '-- Clear',
        'SELECT clear_queue();',
        '-- Not on this target',
        'SELECT * FROM no_such_report();',
        '-- Ends a session, whatever the catalog says',
        'SELECT pg_terminate_backend(pid), queue_report(1) FROM pg_stat_activity WHERE false;',
        '```',
      ].join('\n'),
      'diagnostics.md',
    );
    const steps = procedures[0]!.steps;
    // The runbook alone cannot tell: every one is an action until the target is asked.
    expect(steps.map((step) => step.kind)).toEqual(Array(7).fill('action'));
    expect(steps.slice(0, 6).every((step) => step.kind === 'action' && step.decidedByCatalog)).toBe(true);
    expect(steps[6]).not.toHaveProperty('decidedByCatalog');
    const found = await runProcedureChecks(pools.readOnly(target), target, steps, {});
    expect(found.map(({ step }) => step.kind)).toEqual(['check', 'check', ...Array(5).fill('action')]);
    expect(found[0]!.result?.rows).toEqual([
      ['One', '2'],
      ['Two', '2'],
    ]);
    expect(found[1]!.result?.rows).toEqual([['a'], ['b']]);
    const reasons = (i: number) => (found[i]!.step.kind === 'action' ? found[i]!.step.actionReasons : []);
    expect(reasons(2)).toEqual(['on this target: function public.stamp_items() runs UPDATE']);
    expect(reasons(3)[0]).toMatch(
      /^on this target: calls public\.run_text\(q text\), a plpgsql function that runs SQL it builds at run time \(EXECUTE/,
    );
    expect(reasons(4)).toEqual([
      'on this target: calls public.clear_queue(), a VOLATILE function (declare it with readonly= if it is read-only)',
    ]);
    expect(reasons(5)).toEqual(['on this target: calls no_such_report, which it does not have']);
    expect(found[6]!.changed).toBe(false);
  });

  it('does not take a STABLE function that returns a query it builds at run time as read-only', async () => {
    await db.admin.query(`
      CREATE FUNCTION public.report_built(q text) RETURNS SETOF int LANGUAGE plpgsql STABLE AS $$
        BEGIN RETURN QUERY EXECUTE q; END $$;`);
    expect(await readSafety(db.admin, "SELECT * FROM report_built('SELECT 1')")).toMatchObject({
      safe: false,
      reasons: [
        expect.stringMatching(
          /report_built\(q text\), a plpgsql function that runs SQL it builds at run time/,
        ),
      ],
    });
  });

  it('still runs what only reads: system views, plain views, STABLE SQL functions that read', async () => {
    const results = await run(
      check('SELECT count(*) AS n FROM pg_stat_activity'),
      check('SELECT name FROM v_fine ORDER BY id'),
      check("SELECT upper('x') AS u, item_count() AS n", 'item_count'),
      check('SELECT n FROM v_count'),
    );
    expect(results.map((result) => result.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(results[1]!.rows).toEqual([['ONE'], ['TWO']]);
    expect(results[2]!.rows).toEqual([['X', '2']]);
    expect(results[3]!.rows).toEqual([['2']]);
  });
});
