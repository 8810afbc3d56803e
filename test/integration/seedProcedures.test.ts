import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_LIMITS, executeAction } from '../../src/remediation/execute.js';
import { computePlan } from '../../src/remediation/plan.js';
import { runProcedureChecks, type StepOnTarget } from '../../src/runbooks/execute/procedureChecks.js';
import { resolveIdentifiers } from '../../src/runbooks/identifiers.js';
import type { ActionStep, Procedure, Runbook, Step } from '../../src/runbooks/model.js';
import type { RawValues } from '../../src/runbooks/procedureParams.js';
import { bindStatement } from '../../src/runbooks/procedureParams.js';
import {
  relatedFindingText,
  relatedHealthChecks,
  runRelatedHealthChecks,
} from '../../src/runbooks/relatedHealthChecks.js';
import { BUILT_IN_RUNBOOKS_DIR } from '../../src/runbooks/runbookDirs.js';
import { loadRunbookFile } from '../../src/runbooks/runbookFiles.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import { TargetPools } from '../../src/targets/pools.js';
import type { Target } from '../../src/targets/target.js';
import {
  createTestDatabase,
  openSession,
  type TestDatabase,
  testTarget,
  withDatabase,
} from '../support/databases.js';
import { SEED_FAULTS, SEED_LIBRARY_FILES, SEED_SHAPES } from '../support/seedShapes.js';

/*
 * Each seed's headline procedures run as the bot runs them, without Slack: the checks through
 * runProcedureChecks, the actions previewed with computePlan and executed with executeAction
 * as if approved, then the checks again. The database is shaped like the seed's (its tables
 * and columns) with the fault each procedure is about. What the bot does not yet do as the
 * page's author meant is an it.todo with the reason, never a test that passes around it.
 */
const [server] = inject('postgresServers');

interface Seed {
  runbook: Runbook;
  db: TestDatabase;
  target: Target;
  pools: TargetPools;
  procedure(slug: string): Procedure;
  checks(procedure: Procedure, params?: RawValues): Promise<StepOnTarget[]>;
}

/** The seed as the bot ships it, on a fresh database with its shape and its fault. */
async function openSeed(file: string): Promise<Seed> {
  const runbook = await loadRunbookFile(join(BUILT_IN_RUNBOOKS_DIR, SEED_LIBRARY_FILES[file]!), 'built-in');
  const db = await createTestDatabase(server!.url, { demoSchema: false });
  await db.admin.query(SEED_SHAPES[file]!);
  await db.admin.query(SEED_FAULTS[file]!);
  const target = testTarget(db.url);
  const pools = new TargetPools();
  return {
    runbook,
    db,
    target,
    pools,
    procedure(slug) {
      const found = runbook.procedures.find((procedure) => procedure.id === `${runbook.id}#${slug}`);
      if (!found) throw new Error(`${runbook.id} has no procedure ${slug}`);
      return found;
    },
    checks: (procedure, params = {}) =>
      runProcedureChecks(pools.readOnly(target), target, procedure.steps, params),
  };
}

async function closeSeed(seed: Seed | undefined): Promise<void> {
  await seed?.pools.closeAll();
  await seed?.db.drop();
}

function stepTitled(outcomes: StepOnTarget[], title: string): StepOnTarget {
  const found = outcomes.find((outcome) => outcome.step.title === title);
  if (!found) throw new Error(`no step "${title}" in ${outcomes.map((o) => o.step.title).join(' / ')}`);
  return found;
}

function actionOf(outcome: StepOnTarget | Step): ActionStep {
  const step = 'kind' in outcome ? outcome : outcome.step;
  if (step.kind !== 'action') throw new Error(`"${step.title}" is a ${step.kind}, not an action`);
  return step;
}

/** Every check of a run ran: none failed, none turned out to act. */
function expectChecksRan(outcomes: StepOnTarget[]): void {
  for (const { step, result } of outcomes)
    if (step.kind === 'check') expect(result?.status, `${step.title}: ${result?.error ?? ''}`).toBe('ok');
}

async function pidOf(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

async function close(client: pg.Client): Promise<void> {
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 500)),
  ]);
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The statement with another interval: the test cannot leave a session idle for ten minutes. */
function sooner(step: ActionStep, written: string, instead: string): ActionStep {
  if (!step.statement.sql.includes(written)) throw new Error(`"${written}" is not in ${step.statement.sql}`);
  return {
    ...step,
    statement: {
      ...step.statement,
      sql: step.statement.sql.replace(written, instead),
      text: step.statement.text.replace(written, instead),
    },
  };
}

/** A login role that is not a superuser, whose sessions a runbook may signal; dropped by the returned function. */
async function victimRole(): Promise<{
  name: string;
  urlOn(database: string): string;
  drop(): Promise<void>;
}> {
  const name = `rb_seed_${randomBytes(4).toString('hex')}`;
  const root = await openSession(server!.url, 'test-setup');
  await root.query(`CREATE ROLE ${name} LOGIN PASSWORD 'seed-pw'`);
  await root.end();
  return {
    name,
    urlOn: (database) => withDatabase(server!.url, database, { user: name, password: 'seed-pw' }),
    async drop() {
      const cleanup = await openSession(server!.url, 'test-cleanup');
      await cleanup.query(`DROP ROLE IF EXISTS ${name}`).catch(() => undefined);
      await cleanup.end();
    },
  };
}

describe('seed 000 (Hampton Mowerpower): PGRST002 and duplicate triggers', () => {
  const file = '000_5aa7576ec96abee9.txt';
  let seed: Seed;
  beforeAll(async () => {
    seed = await openSeed(file);
  });
  afterAll(() => closeSeed(seed));

  it('keeps the PGRST002 procedure with people: its four steps are prose (an editor, a file the bot does not have)', () => {
    const { steps } = seed.procedure('critical-database-api-connection-lost-error');
    expect(steps.map((step) => [step.kind, step.title])).toEqual([
      ['manual', 'Open Supabase SQL Editor'],
      ['manual', 'Run the emergency SQL file'],
      ['manual', 'Wait 10 seconds'],
      ['manual', 'Verify the fix'],
    ]);
    expect(steps.every((step) => step.kind === 'manual' && step.code === undefined)).toBe(true);
  });

  it("offers PGRST002's fix as previewed actions through the finding's built-in procedure: the GRANT for the table found, then NOTIFY pgrst", async () => {
    const library = await loadRunbookFile(join(BUILT_IN_RUNBOOKS_DIR, 'postgres-health.md'), 'built-in');
    const procedure = library.procedures.find((found) => found.id === 'postgres-health#restore-api-access')!;
    const [grant, notify] = procedure.steps.filter((step) => step.kind === 'action');
    if (grant?.kind !== 'action' || notify?.kind !== 'action') throw new Error('two actions');
    expect(notify.statement.text).toBe("NOTIFY pgrst, 'reload schema'");
    const pool = seed.pools.remediation(seed.target);
    const resolved = await resolveIdentifiers(pool, grant.statement, {
      schema: 'public',
      table: 'customers_db',
    });
    if (!resolved.ok) throw new Error(resolved.problems.join('; '));
    const plan = await computePlan(pool, seed.target, { ...grant, statement: resolved.statement }, []);
    expect(plan.sql).toBe('GRANT SELECT ON "public"."customers_db" TO anon, authenticated');
    expect((await computePlan(pool, seed.target, notify, [])).blocked).toBeUndefined();
  });

  it('shows the fault: one update bumps the version twice, as the page says', async () => {
    await seed.db.admin.query("UPDATE jobs_db SET status = 'in_progress' WHERE id = 'j1'");
    const { rows } = await seed.db.admin.query("SELECT version FROM jobs_db WHERE id = 'j1'");
    expect(rows[0].version).toBe(3);
  });

  it('runs "Find duplicates" without error', async () => {
    const outcomes = await seed.checks(seed.procedure('issue-duplicate-triggers-causing-conflicts'));
    expectChecksRan(outcomes);
    expect(stepTitled(outcomes, 'Find duplicates').result?.columns).toEqual([
      'trigger_name',
      'event_object_table',
      'occurrences',
    ]);
  });

  it('"Find duplicates" misses jobs_bump_version and jobs_bump_version_v2 (two names, one function, one event) as written; the run adds what duplicate_triggers finds', async () => {
    const procedure = seed.procedure('issue-duplicate-triggers-causing-conflicts');
    const outcomes = await seed.checks(procedure);
    // The author's SQL runs as written: grouped by name, the pair is not there.
    expect(stepTitled(outcomes, 'Find duplicates').result).toMatchObject({ status: 'ok', rowCount: 0 });
    // The bot's own check, related to this procedure in the shipped library, finds it.
    const library = (await RunbookLibrary.load(runbookSources())).library;
    const related = relatedHealthChecks(procedure.id, library);
    expect(related).toEqual(['duplicate_triggers']);
    const findings = await runRelatedHealthChecks(seed.target, seed.pools.readOnly(seed.target), related);
    expect(findings.map(relatedFindingText)).toEqual([
      `The bot's own check duplicate_triggers on ${seed.target.name}: warn — 1 duplicate trigger pair; public.jobs_db runs bump_version() twice BEFORE UPDATE (jobs_bump_version, jobs_bump_version_v2) → postgres-health#drop-duplicate-trigger schema=public table=jobs_db trigger=jobs_bump_version_v2`,
    ]);
  });

  it('adds nothing, and fails nothing, when the target cannot be reached for the related check', async () => {
    const gone = { ...seed.target, name: 'gone', url: 'postgres://nobody@127.0.0.1:1/none' };
    const pools = new TargetPools();
    try {
      expect(await runRelatedHealthChecks(gone, pools.readOnly(gone), ['duplicate_triggers'])).toEqual([]);
    } finally {
      await pools.closeAll();
    }
  });

  it('previews the template "DROP TRIGGER IF EXISTS trigger_name ON table_name" as nothing to do, and does nothing', async () => {
    const outcomes = await seed.checks(seed.procedure('issue-duplicate-triggers-causing-conflicts'));
    const drop = actionOf(stepTitled(outcomes, 'Drop all instances of the trigger'));
    expect(drop.risk).toBe('high');
    const pool = seed.pools.remediation(seed.target);
    const plan = await computePlan(pool, seed.target, drop, []);
    expect(plan.blocked?.kind).toBe('nothing_to_do');
    expect(plan.summary).toMatch(/^nothing to do/);
    const result = await executeAction(pool, seed.target, drop, [], plan);
    expect(result.status).toBe('nothing_done');
    const { rows } = await seed.db.admin.query(
      "SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'jobs_db'::regclass AND NOT tgisinternal",
    );
    expect(rows[0].n).toBe(2);
  });

  it('previews the template "CREATE TRIGGER trigger_name … ON table_name" as cannot run, naming table_name and trigger_function(), and offers no approval', async () => {
    const outcomes = await seed.checks(seed.procedure('issue-duplicate-triggers-causing-conflicts'));
    const create = actionOf(stepTitled(outcomes, 'Recreate it once'));
    const pool = seed.pools.remediation(seed.target);
    // The DROP before it in the same block creates nothing: both names are still missing.
    const { steps } = seed.procedure('issue-duplicate-triggers-causing-conflicts');
    const earlier = steps.slice(0, steps.indexOf(create));
    const plan = await computePlan(pool, seed.target, create, [], undefined, [], earlier);
    expect(plan.blocked?.kind).toBe('missing_objects');
    expect(plan.summary).toBe(
      `cannot run: table table_name does not exist on ${seed.target.name}; function trigger_function() does not exist; table_name, trigger_function read as a template's stand-in: the runbook must name real objects`,
    );
    // Executed anyway (approved before the catalog changed): refused before anything runs.
    const result = await executeAction(pool, seed.target, create, [], plan);
    expect(result).toMatchObject({
      status: 'aborted',
      reason: expect.stringMatching(/table table_name does not exist/),
    });
    const { rows } = await seed.db.admin.query(
      "SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'trigger_name'",
    );
    expect(rows[0].n).toBe(0);
  });

  it('drops the duplicate trigger the finding names, through the built-in procedure, by its identifiers', async () => {
    const library = await loadRunbookFile(join(BUILT_IN_RUNBOOKS_DIR, 'postgres-health.md'), 'built-in');
    const procedure = library.procedures.find(
      (found) => found.id === 'postgres-health#drop-duplicate-trigger',
    )!;
    const names = { schema: 'public', table: 'jobs_db', trigger: 'jobs_bump_version_v2' };
    // Its diagnosis shows both triggers, with the one function they share.
    const diagnosis = await runProcedureChecks(
      seed.pools.readOnly(seed.target),
      seed.target,
      procedure.steps,
      names,
    );
    expectChecksRan(diagnosis);
    expect(diagnosis[0]!.result?.rows.map((row) => row[0])).toEqual([
      'jobs_bump_version',
      'jobs_bump_version_v2',
    ]);
    const drop = procedure.steps.find(
      (step) => step.kind === 'action' && step.statement.kind === 'DROP TRIGGER',
    );
    if (drop?.kind !== 'action') throw new Error('a DROP TRIGGER action');
    const pool = seed.pools.remediation(seed.target);
    // A misspelt name never reaches the SQL: refused before preview, with what exists.
    const wrong = await resolveIdentifiers(pool, drop.statement, {
      ...names,
      trigger: 'jobs_bump_verison_v2',
    });
    expect(wrong).toMatchObject({ ok: false, problems: [expect.stringMatching(/jobs_bump_version/)] });
    const resolved = await resolveIdentifiers(pool, drop.statement, names);
    if (!resolved.ok) throw new Error(resolved.problems.join('; '));
    const step = { ...drop, statement: resolved.statement };
    const plan = await computePlan(pool, seed.target, step, []);
    expect(plan.sql).toBe('DROP TRIGGER "jobs_bump_version_v2" ON "public"."jobs_db"');
    expect(await executeAction(pool, seed.target, step, [], plan)).toMatchObject({ status: 'succeeded' });
    // One update, one bump.
    await seed.db.admin.query("UPDATE jobs_db SET status = 'done' WHERE id = 'j1'");
    const { rows } = await seed.db.admin.query("SELECT version FROM jobs_db WHERE id = 'j1'");
    expect(rows[0].version).toBe(4);
  });
});

describe('seed 001 (Care Collective): sign-ups without profiles, RLS diagnosis as the user', () => {
  const file = '001_fa7a400fb5f384a8.txt';
  const CAROL = '5b6c7d8e-9f01-4234-8567-89abcdef0123';
  let seed: Seed;
  // Roles are the server's: the seed's `authenticated` is ours under another name, so no
  // other test sees a PostgREST role appear.
  const role = `rb_authenticated_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    seed = await openSeed(file);
    await seed.db.admin.query(`
      CREATE ROLE ${role} NOLOGIN;
      GRANT SELECT ON help_requests, profiles TO ${role};
      -- The policy that hides a user's own request once someone is helping with it.
      CREATE POLICY open_requests ON help_requests FOR SELECT TO ${role}
        USING (status = 'open' AND user_id = current_setting('request.jwt.claim.sub', true));`);
  });
  afterAll(async () => {
    await closeSeed(seed);
    const cleanup = await openSession(server!.url, 'test-cleanup');
    await cleanup.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await cleanup.end();
  });

  it('finds the users without profiles, creates exactly theirs, and the checks then come back clean', async () => {
    const procedure = seed.procedure('issue-users-cant-sign-up-or-profiles-arent-created');
    const before = await seed.checks(procedure);
    expectChecksRan(before);
    // The diagnostic function is STABLE on this target: it runs as a check and shows the fault.
    const verify = stepTitled(before, 'Check if user registration trigger is working');
    expect(verify.step.kind).toBe('check');
    expect(verify.result?.rows).toEqual([['every user has a profile', 'f']]);
    const missing = stepTitled(before, 'Check for failed profile creations').result!;
    expect(missing.rows.map((row) => row[1]).sort()).toEqual(['alice@care.test', 'bob@care.test']);

    const create = actionOf(stepTitled(before, 'Manually create missing profiles'));
    const pool = seed.pools.remediation(seed.target);
    const plan = await computePlan(pool, seed.target, create, []);
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 2 });
    expect(plan.blocked).toBeUndefined();
    const result = await executeAction(pool, seed.target, create, [], plan);
    expect(result).toMatchObject({ status: 'succeeded', affectedRows: 2 });

    const after = await seed.checks(procedure);
    expectChecksRan(after);
    expect(stepTitled(after, 'Check if user registration trigger is working').result?.rows).toEqual([
      ['every user has a profile', 't'],
    ]);
    expect(stepTitled(after, 'Check for failed profile creations').result?.rows).toEqual([]);
    // Nothing left to do: the same action now previews as such and offers no approval.
    const again = await computePlan(pool, seed.target, create, []);
    expect(again.blocked?.kind).toBe('nothing_to_do');
  });

  it('tests as the user in one check: SET ROLE and the JWT claim apply to the query, which shows the hidden row', async () => {
    const procedure = seed.procedure('issue-users-cant-access-data-they-should-be-able-to');
    const steps = procedure.steps.map((step) =>
      step.kind === 'check' && step.statement.session
        ? {
            ...step,
            statement: {
              ...step.statement,
              session: step.statement.session.map((setting) =>
                setting.kind === 'role' && setting.role === 'authenticated' ? { ...setting, role } : setting,
              ),
            },
          }
        : step,
    );
    expect(steps[0]).toMatchObject({ kind: 'check', title: 'Try the failing operation' });
    const asCarol = await runProcedureChecks(seed.pools.readOnly(seed.target), seed.target, steps, {
      user_uuid: CAROL,
      request_id: 'r1',
    });
    expectChecksRan(asCarol);
    // Carol cannot see her own request r1 (the policy hides requests in progress) …
    expect(asCarol[0]!.result?.rows).toEqual([]);
    // … though she exists and the row is there: the policy is the fault.
    expect(stepTitled(asCarol, 'Check if user exists in profiles').result?.rows).toEqual([[CAROL, 'Carol']]);
    const open = await runProcedureChecks(seed.pools.readOnly(seed.target), seed.target, steps, {
      user_uuid: CAROL,
      request_id: 'r2',
    });
    expect(open[0]!.result?.rows).toHaveLength(1);
  });

  it('previews "Try creating a test request" as the user: the policy answers in a rolled-back transaction', async () => {
    const procedure = seed.procedure('issue-help-request-creation-fails');
    const trial = actionOf(procedure.steps[0]!);
    expect(trial.statement.session?.map((setting) => setting.kind)).toEqual(['role', 'setting']);
    await seed.db.admin.query(`GRANT INSERT ON help_requests TO ${role}`);
    const pool = seed.pools.remediation(seed.target);
    const preview = (user: string) => {
      const binding = bindStatement(trial.statement, { user_uuid: user });
      if (!binding.ok) throw new Error(binding.problems.join('; '));
      const session = binding.session.map((setting) =>
        setting.kind === 'role' && setting.role === 'authenticated' ? { ...setting, role } : setting,
      );
      return computePlan(pool, seed.target, trial, binding.values, undefined, session);
    };
    // No INSERT policy: row-level security refuses the user's request, which is the page's fault.
    await expect(preview(CAROL)).rejects.toThrow(
      /new row violates row-level security policy for table "help_requests"/,
    );
    await seed.db.admin.query(`CREATE POLICY insert_own ON help_requests FOR INSERT TO ${role}
      WITH CHECK (user_id = current_setting('request.jwt.claim.sub', true))`);
    const fixed = await preview(CAROL);
    expect(fixed).toMatchObject({ mode: 'dml', affectedRows: 1 });
    expect(fixed.summary).toContain(`as role ${role}, with request.jwt.claim.sub = ${CAROL}`);
    // Rolled back: the trial wrote nothing.
    expect((await seed.db.admin.query('SELECT count(*)::int AS n FROM help_requests')).rows[0].n).toBe(2);
  });

  it('posts the rows of an approved EXPLAIN ANALYZE (the query plan), not only "done"', async () => {
    const outcomes = await seed.checks(seed.procedure('issue-help-requests-not-loading-or-taking-too-long'));
    // The page's own mistake (pg_stat_user_indexes calls it relname; lint --target says so) is
    // an error that names the column, not a silent empty result.
    expect(stepTitled(outcomes, 'Check for missing indexes').result).toMatchObject({
      status: 'error',
      error: expect.stringMatching(/column "tablename" does not exist/),
    });
    const explain = actionOf(stepTitled(outcomes, 'Check help request query performance'));
    const pool = seed.pools.remediation(seed.target);
    const plan = await computePlan(pool, seed.target, explain, []);
    const result = await executeAction(pool, seed.target, explain, [], plan);
    expect(result).toMatchObject({ status: 'succeeded', output: { columns: ['QUERY PLAN'] } });
    if (result.status !== 'succeeded') throw new Error('unreachable');
    expect(result.output?.rows.map((row) => row[0]).join('\n')).toMatch(/Execution Time/);
  });

  it('pairs "Temporarily disable RLS" with its re-enable, and refuses it on production', async () => {
    const procedure = seed.procedure('issue-users-cant-access-data-they-should-be-able-to');
    const disable = actionOf(
      procedure.steps.find((step) => step.title.startsWith('Temporarily disable RLS'))!,
    );
    expect(disable.risk).toBe('high');
    const pool = seed.pools.remediation(seed.target);
    const plan = await computePlan(pool, seed.target, disable, []);
    expect(plan.revert).toMatchObject({ sql: 'ALTER TABLE "help_requests" ENABLE ROW LEVEL SECURITY' });
    expect(plan.summary).toMatch(/turned back on by the bot 15 min after it runs/);
    const production = { ...seed.target, tags: ['production'] };
    expect((await computePlan(pool, production, disable, [])).blocked?.kind).toBe('not_allowed');
  });
});

describe('seed 002 (LotAstro): kill idle connections, failed emails, reservation conflicts', () => {
  const file = '002_4f3004b0bed5cbcb.txt';
  let seed: Seed;
  let other: TestDatabase;
  let victims: Awaited<ReturnType<typeof victimRole>>;
  beforeAll(async () => {
    seed = await openSeed(file);
    other = await createTestDatabase(server!.url, { demoSchema: false });
    victims = await victimRole();
  });
  afterAll(async () => {
    await closeSeed(seed);
    await other?.drop();
    await victims?.drop();
  });

  it("kills the idle connections of the target's database only, listing each backend's database", async () => {
    const idle = await Promise.all(
      [1, 2].map(() => openSession(victims.urlOn(seed.db.name), 'lotastro-app')),
    );
    const elsewhere = await openSession(victims.urlOn(other.name), 'lotastro-app');
    try {
      // Idle after a query: query_start is set, as it is for a pooled connection.
      for (const client of [...idle, elsewhere]) await client.query('SELECT 1');
      const idlePids = (await Promise.all(idle.map(pidOf))).sort((a, b) => a - b);
      const elsewherePid = await pidOf(elsewhere);
      const procedure = seed.procedure('1-database-connection-failures');
      const outcomes = await seed.checks(procedure);
      expectChecksRan(outcomes);
      const kill = sooner(
        actionOf(stepTitled(outcomes, 'If pool exhausted, kill idle connections')),
        "interval '10 minutes'",
        "interval '0 seconds'",
      );
      expect(kill.risk).toBe('high');
      const pool = seed.pools.remediation(seed.target);
      const plan = await computePlan(pool, seed.target, kill, []);
      expect(plan.mode).toBe('signal');
      expect(plan.signalScope).toEqual({ scope: 'database', database: seed.db.name });
      const reached = plan.backends!.filter((backend) => backend.user === victims.name);
      expect(reached.map((backend) => backend.pid).sort((a, b) => a - b)).toEqual(idlePids);
      expect(plan.backends!.every((backend) => backend.database === seed.db.name)).toBe(true);
      expect(plan.backends!.some((backend) => backend.pid === elsewherePid)).toBe(false);

      const result = await executeAction(pool, seed.target, kill, [], plan);
      expect(result.status).toBe('succeeded');
      const alive = async (pids: number[]) =>
        (
          await seed.db.admin.query<{ pid: number }>(
            'SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])',
            [pids],
          )
        ).rows.map((row) => row.pid);
      await eventually(async () => (await alive(idlePids)).length === 0);
      expect(await alive([elsewherePid])).toEqual([elsewherePid]);
      await elsewhere.query('SELECT 1');
    } finally {
      await Promise.all([...idle, elsewhere].map(close));
    }
  });

  it('retries one failed email: a one-row plan for the id given, and the failure list shrinks', async () => {
    const procedure = seed.procedure('4-email-delivery-failures');
    const before = await seed.checks(procedure);
    expectChecksRan(before);
    const failures = stepTitled(before, 'Check email_log for recent failures').result!;
    expect(failures.rows.map((row) => row[0])).toEqual(['e1', 'e2']);

    const retry = actionOf(stepTitled(before, 'Retry failed emails'));
    expect(retry.statement.params.map((param) => param.name)).toEqual(['email_id']);
    const pool = seed.pools.remediation(seed.target);
    const plan = await computePlan(pool, seed.target, retry, ['e1']);
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 1 });
    expect(await executeAction(pool, seed.target, retry, ['e1'], plan)).toMatchObject({
      status: 'succeeded',
      affectedRows: 1,
    });
    const after = await seed.checks(procedure);
    expect(
      stepTitled(after, 'Check email_log for recent failures').result?.rows.map((row) => row[0]),
    ).toEqual(['e2']);
    // An id that is not there is nothing to do, not a success.
    const none = await computePlan(pool, seed.target, retry, ['e404']);
    expect(none.blocked?.kind).toBe('nothing_to_do');
    expect((await executeAction(pool, seed.target, retry, ['e404'], none)).status).toBe('nothing_done');
  });

  it('fixes mismatched and negative reserved meters: an UPDATE of every lot, high risk, and the integrity check comes back empty', async () => {
    const procedure = seed.procedure('6-reservation-conflicts');
    const before = await seed.checks(procedure);
    expectChecksRan(before);
    const mismatched = stepTitled(before, 'Check reservation integrity').result!;
    expect(mismatched.rows.map((row) => [row[0], row[4], row[5]]).sort()).toEqual([
      ['L1', '50', '30'],
      ['L2', '-10', '0'],
    ]);
    const fix = actionOf(stepTitled(before, 'Fix mismatched reserved_meters'));
    // No WHERE: it rewrites every lot, the correct ones too, and says so.
    expect(fix.risk).toBe('high');
    const pool = seed.pools.remediation(seed.target);
    const plan = await computePlan(pool, seed.target, fix, []);
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 3 });
    expect(await executeAction(pool, seed.target, fix, [], plan)).toMatchObject({
      status: 'succeeded',
      affectedRows: 3,
    });
    const after = await seed.checks(procedure);
    expect(stepTitled(after, 'Check reservation integrity').result?.rows).toEqual([]);
  });
});

describe('seed 003 (Timothie): diagnostic functions decided by the catalog, oversold stock, idle in transaction', () => {
  const file = '003_dab589b8c9148727.txt';
  let seed: Seed;
  let victims: Awaited<ReturnType<typeof victimRole>>;
  beforeAll(async () => {
    seed = await openSeed(file);
    victims = await victimRole();
  });
  afterAll(async () => {
    await closeSeed(seed);
    await victims?.drop();
  });

  it('runs the morning checklist as checks: the STABLE diagnostic functions need nobody, and show the fault', async () => {
    const procedure = seed.procedure('morning-checklist-9-am');
    // The runbook alone cannot tell: the functions are the team's.
    expect(procedure.steps.filter((step) => step.kind === 'action' && step.decidedByCatalog)).toHaveLength(3);
    const outcomes = await seed.checks(procedure);
    expectChecksRan(outcomes);
    expect(outcomes.every((outcome) => outcome.step.kind === 'check')).toBe(true);
    expect(stepTitled(outcomes, 'Health Check').result?.rows).toEqual([
      ['oversold inventory', 'critical: 2'],
    ]);
  });

  it('keeps the VOLATILE maintenance functions actions, with the catalog as the reason', async () => {
    const outcomes = await seed.checks(seed.procedure('evening-checklist-6-pm'));
    expectChecksRan(outcomes);
    const maintenance = actionOf(stepTitled(outcomes, 'Maintenance Tasks'));
    expect(maintenance.actionReasons.join(' ')).toMatch(/^on this target: .*perform_routine_maintenance/);
    expect(stepTitled(outcomes, 'Backup Verification').step.kind).toBe('check');
  });

  it('archives old delivered orders: the storage report is a check, the cleanup function an action, the UPDATE counted against the row limit', async () => {
    const outcomes = await seed.checks(seed.procedure('storage-space-critical'));
    expectChecksRan(outcomes);
    expect(stepTitled(outcomes, 'Check Storage Usage').step.kind).toBe('check');
    expect(actionOf(stepTitled(outcomes, 'Clean Up Orphaned Files')).actionReasons.join(' ')).toMatch(
      /^on this target: .*cleanup_orphaned_images/,
    );
    const archive = actionOf(stepTitled(outcomes, 'Archive orders older than 2 years'));
    const pool = seed.pools.remediation(seed.target);
    const plan = await computePlan(pool, seed.target, archive, []);
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 1, rowLimit: { rows: 1000 } });
    expect(await executeAction(pool, seed.target, archive, [], plan)).toMatchObject({
      status: 'succeeded',
      affectedRows: 1,
    });
    const { rows } = await seed.db.admin.query("SELECT id FROM orders WHERE notes LIKE '%[ARCHIVED]%'");
    expect(rows).toEqual([{ id: 'o1' }]);
  });

  it('resets the reserved quantities of oversold items only, and the diagnosis then finds none', async () => {
    const procedure = seed.procedure('inventory-synchronization-issues');
    const before = await seed.checks(procedure);
    expectChecksRan(before);
    expect(
      stepTitled(before, 'Diagnosis')
        .result?.rows.map((row) => row[0])
        .sort(),
    ).toEqual(['i1', 'i2']);
    const reset = actionOf(stepTitled(before, 'Reset reserved quantities'));
    const pool = seed.pools.remediation(seed.target);
    const plan = await computePlan(pool, seed.target, reset, []);
    expect(plan).toMatchObject({ mode: 'dml', affectedRows: 2 });
    expect(await executeAction(pool, seed.target, reset, [], plan)).toMatchObject({
      status: 'succeeded',
      affectedRows: 2,
    });
    const after = await seed.checks(procedure);
    expect(stepTitled(after, 'Diagnosis').result?.rows).toEqual([]);
    const health = await seed.checks(seed.procedure('morning-checklist-9-am'));
    expect(stepTitled(health, 'Health Check').result?.rows).toEqual([['oversold inventory', 'ok']]);
  });

  it('terminates the sessions idle in a transaction, leaving idle ones alone', async () => {
    const stuck = await openSession(victims.urlOn(seed.db.name), 'timothie-app');
    const idle = await openSession(victims.urlOn(seed.db.name), 'timothie-app');
    try {
      await stuck.query('BEGIN');
      await stuck.query('SELECT 1');
      await idle.query('SELECT 1');
      const stuckPid = await pidOf(stuck);
      const idlePid = await pidOf(idle);
      const outcomes = await seed.checks(seed.procedure('database-down-3am-alert'));
      expectChecksRan(outcomes);
      const kill = sooner(
        actionOf(stepTitled(outcomes, 'Kill problematic connections')),
        "INTERVAL '10 minutes'",
        "INTERVAL '0 seconds'",
      );
      const pool = seed.pools.remediation(seed.target);
      const plan = await computePlan(pool, seed.target, kill, []);
      expect(plan.backends?.map((backend) => backend.pid)).toEqual([stuckPid]);
      expect(plan.backends?.[0]).toMatchObject({ state: 'idle in transaction', database: seed.db.name });
      expect(await executeAction(pool, seed.target, kill, [], plan)).toMatchObject({
        status: 'succeeded',
        signalled: [stuckPid],
      });
      await eventually(
        async () =>
          (await seed.db.admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [stuckPid]))
            .rowCount === 0,
      );
      await idle.query('SELECT 1');
      expect(idlePid).toBeGreaterThan(0);
    } finally {
      await Promise.all([stuck, idle].map(close));
    }
  });

  it("archives 2,500 old orders in 3 batches on a target that allows them, each once though the page's SET leaves them matching", async () => {
    await seed.db.admin.query(`INSERT INTO orders (id, order_number, status, created_at, delivered_at)
      SELECT 'old-' || i, 'TC-OLD-' || i, 'delivered', now() - interval '3 years', now() - interval '3 years'
        FROM generate_series(1, 2500) AS i`);
    const outcomes = await seed.checks(seed.procedure('storage-space-critical'));
    const archive = actionOf(stepTitled(outcomes, 'Archive orders older than 2 years'));
    const target = { ...seed.target, settings: { ...seed.target.settings, batchedDml: true } };
    const pool = seed.pools.remediation(target);
    const plan = await computePlan(pool, target, archive, []);
    // o1, archived by the test above, still matches: the page's WHERE does not look at notes.
    expect(plan).toMatchObject({
      affectedRows: 2501,
      batches: { count: 3, size: 1000, key: [{ name: 'id' }] },
    });
    expect(await executeAction(pool, target, archive, [], plan)).toMatchObject({
      status: 'succeeded',
      affectedRows: 2501,
      batches: { done: 3 },
    });
    const { rows } = await seed.db.admin.query(
      "SELECT notes, count(*)::int AS n FROM orders WHERE id LIKE 'old-%' GROUP BY notes",
    );
    expect(rows).toEqual([{ notes: ' [ARCHIVED]', n: 2500 }]);
  });
});

describe('seed 004 (Production Operations): the stuck Shopify sync queue, options A, B and C', () => {
  const file = '004_95e26377be71e20e.txt';
  let seed: Seed;
  beforeAll(async () => {
    seed = await openSeed(file);
  });
  afterAll(() => closeSeed(seed));

  const counts = (outcome: StepOnTarget) =>
    Object.fromEntries((outcome.result?.rows ?? []).map(([status, count]) => [status, Number(count)]));

  it('diagnoses the stuck queue, previews each option with its risk, and option C then A clear it', async () => {
    const procedure = seed.procedure('2-shopify-sync-queue-stuck');
    const before = await seed.checks(procedure);
    expectChecksRan(before);
    expect(counts(stepTitled(before, 'Check queue status'))).toEqual({ queued: 3, failed: 3, completed: 1 });
    expect(stepTitled(before, 'Find stuck items').result?.rows.map((row) => row[1])).toEqual([
      'item-1',
      'item-2',
      'item-3',
    ]);
    expect(stepTitled(before, 'Check for failed items').result?.rowCount).toBe(3);

    // The clearing function deletes: the catalog keeps both options actions, with the author's risk.
    const optionA = actionOf(stepTitled(before, 'Clear only failed items (safe)'));
    const optionB = actionOf(stepTitled(before, 'Clear all queued items (use with caution)'));
    const optionC = actionOf(stepTitled(before, 'Reset failed items to retry'));
    expect([optionA.risk, optionB.risk, optionC.risk]).toEqual(['medium', 'high', 'high']);

    const pool = seed.pools.remediation(seed.target);
    // Option C: only the items out of retries (item-4, item-5), not the one still retrying.
    const planC = await computePlan(pool, seed.target, optionC, []);
    expect(planC).toMatchObject({ mode: 'dml', affectedRows: 2 });
    expect(await executeAction(pool, seed.target, optionC, [], planC)).toMatchObject({
      status: 'succeeded',
      affectedRows: 2,
    });
    const afterC = await seed.checks(procedure);
    expect(counts(stepTitled(afterC, 'Verify queue is processing'))).toEqual({
      queued: 5,
      failed: 1,
      completed: 1,
    });

    // Option B: tried in a transaction that is rolled back, it says how many queued items it would clear.
    const planB = await computePlan(pool, seed.target, optionB, []);
    expect(planB).toMatchObject({
      mode: 'trial',
      summary:
        'SELECT would delete 5 rows of public.shopify_sync_queue (tried in a transaction that was rolled back)',
      affectedRows: 5,
      changes: [{ table: 'public.shopify_sync_queue', inserted: 0, updated: 0, deleted: 5 }],
      sample: { columns: ['admin_clear_shopify_sync_queue'], rows: [['5']] },
      rowLimit: { rows: 1000 },
    });
    expect(planB.blocked).toBeUndefined();
    // The trial cleared nothing.
    expect(counts(stepTitled(await seed.checks(procedure), 'Verify queue is processing'))).toEqual({
      queued: 5,
      failed: 1,
      completed: 1,
    });

    // Option A: counted the same way; the function's own answer (how many it cleared) is posted too.
    const planA = await computePlan(pool, seed.target, optionA, []);
    expect(planA).toMatchObject({ mode: 'trial', affectedRows: 1 });
    expect(planA.blocked).toBeUndefined();
    const resultA = await executeAction(pool, seed.target, optionA, [], planA);
    expect(resultA).toMatchObject({ status: 'succeeded', affectedRows: 1, output: { rows: [['1']] } });
    const afterA = await seed.checks(procedure);
    expect(counts(stepTitled(afterA, 'Verify queue is processing'))).toEqual({ queued: 5, completed: 1 });
    expect(stepTitled(afterA, 'Check for failed items').result?.rows).toEqual([]);
  });

  it("runs option C's archive of completed lots in batches on a target that allows them; its log DELETE is refused: system_logs has no key to walk", async () => {
    await seed.db.admin.query(`
      INSERT INTO system_logs (level, message, created_at)
        SELECT 'info', 'old', now() - interval '100 days' FROM generate_series(1, 2500);
      INSERT INTO intake_lots (id, lot_number, status, completed_at)
        SELECT 'lot-' || i, 'L' || i, 'completed', now() - interval '1 year' FROM generate_series(1, 2500) AS i;`);
    const { steps } = seed.procedure('6-database-performance-issues');
    const logs = actionOf(steps.find((step) => step.title === 'Archive old system logs')!);
    const lots = actionOf(steps.find((step) => step.title === 'Archive completed batches')!);
    const target = { ...seed.target, settings: { ...seed.target.settings, batchedDml: true } };
    const pool = seed.pools.remediation(target);

    const logsPlan = await computePlan(pool, target, logs, []);
    expect(logsPlan.blocked?.reason).toMatch(
      /It cannot run in batches: "system_logs" has no primary key or unique index on NOT NULL columns/,
    );
    const lotsPlan = await computePlan(pool, target, lots, []);
    expect(lotsPlan).toMatchObject({ affectedRows: 2500, batches: { count: 3 } });
    expect(lotsPlan.blocked).toBeUndefined();
    expect(await executeAction(pool, target, lots, [], lotsPlan)).toMatchObject({
      status: 'succeeded',
      affectedRows: 2500,
      batches: { done: 3 },
    });
    const { rows } = await seed.db.admin.query(
      'SELECT status, count(*)::int AS n FROM intake_lots GROUP BY status',
    );
    expect(rows).toEqual([{ status: 'archived', n: 2500 }]);
  });

  it("holds option B's trial count to the row limit and to what was approved, then clears the queue and finds nothing left to do", async () => {
    const procedure = seed.procedure('2-shopify-sync-queue-stuck');
    const optionB = actionOf(
      stepTitled(await seed.checks(procedure), 'Clear all queued items (use with caution)'),
    );
    const pool = seed.pools.remediation(seed.target);
    await seed.db.admin.query(
      "INSERT INTO shopify_sync_queue (inventory_item_id, action, status) SELECT 'bulk-' || n, 'update', 'queued' FROM generate_series(1, 3) AS n",
    );
    const queued = Number(
      (await seed.db.admin.query("SELECT count(*) AS n FROM shopify_sync_queue WHERE status = 'queued'"))
        .rows[0].n,
    );
    expect(queued).toBeGreaterThan(3);
    const overLimit = await computePlan(pool, seed.target, optionB, [], {
      ...DEFAULT_LIMITS,
      maxRows: 3,
      rowLimitSetBy: 'the test',
    });
    expect(overLimit.blocked).toMatchObject({
      kind: 'over_limit',
      reason: expect.stringMatching(`it would change ${queued} rows, more than its limit of 3`),
    });

    const approved = await computePlan(pool, seed.target, optionB, []);
    expect(approved.affectedRows).toBe(queued);
    // More items queued since the approval: the re-check stops it, and nothing is cleared.
    await seed.db.admin.query(
      "INSERT INTO shopify_sync_queue (inventory_item_id, action, status) SELECT 'late-' || n, 'update', 'queued' FROM generate_series(1, 4) AS n",
    );
    expect(await executeAction(pool, seed.target, optionB, [], approved)).toMatchObject({
      status: 'changed',
      reason: `it would now change ${queued + 4} rows; ${queued} were approved (allowed: ±1)`,
    });
    const again = await computePlan(pool, seed.target, optionB, []);
    expect(await executeAction(pool, seed.target, optionB, [], again)).toMatchObject({
      status: 'succeeded',
      affectedRows: queued + 4,
      output: { rows: [[String(queued + 4)]] },
    });
    const after = await computePlan(pool, seed.target, optionB, []);
    expect(after.blocked).toEqual({ kind: 'nothing_to_do', reason: 'it would change no rows' });
    expect(after.summary).toBe('SELECT would change no rows (tried in a transaction that was rolled back)');
  });
});
