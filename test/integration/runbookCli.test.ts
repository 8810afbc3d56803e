import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { DUPLICATE_TRIGGERS, DUPLICATE_TRIGGERS_DROP } from '../support/seedShapes.js';

const [server] = inject('postgresServers');
const seed = (name: string) => fileURLToPath(new URL(`../fixtures/seeds/${name}`, import.meta.url));

describe('runbook-bot lint, list, show, match and run', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(server!.url, { demoSchema: false });
    await db.admin.query(`
      CREATE TABLE shopify_sync_queue (id serial PRIMARY KEY, inventory_item_id int, action text, status text,
        retry_count int DEFAULT 0, max_retries int DEFAULT 3, last_error text, created_at timestamptz DEFAULT now());
      INSERT INTO shopify_sync_queue (inventory_item_id, action, status) VALUES (1, 'update', 'queued'), (2, 'update', 'failed');`);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('lint shows what was understood of a seed: procedures, classes, risks', async () => {
    const result = await cli(['lint', seed('004_95e26377be71e20e.txt')]);
    expect(result.stdout).toContain('production-operations-runbook#2-shopify-sync-queue-stuck');
    expect(result.stdout).toMatch(/check\s+SELECT\s+Check queue status/);
    expect(result.stdout).toMatch(/action medium\s+UPDATE/);
    expect([0, 1]).toContain(result.code);
  });

  it('lint --json prints the parsed runbooks; a bad SQL block is a warning and exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lint-'));
    const file = join(dir, 'broken.md');
    writeFileSync(
      file,
      '# Broken\n\n## Fix it\n\n```sql\nSELEC * FRM jobs;\n```\n\n```sql\nSELECT 1;\n```\n',
    );
    const result = await cli(['lint', '--json', file]);
    rmSync(dir, { recursive: true, force: true });
    const [runbook] = JSON.parse(result.stdout);
    expect(runbook.id).toBe('broken');
    expect(runbook.procedures[0].steps.map((step: { kind: string }) => step.kind)).toEqual([
      'manual',
      'check',
    ]);
    expect(runbook.warnings[0].message).toContain('does not parse');
    expect(result.code).toBe(1);
  });

  it('lint names a file it cannot read', async () => {
    const result = await cli(['lint', '/nonexistent/runbook.md']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('cannot read /nonexistent/runbook.md');
  });

  it('list, show and match read the library', async () => {
    expect((await cli(['list'])).stdout).toContain('postgres-health#vacuum-table');
    expect((await cli(['show', 'postgres-health#vacuum-table'])).stdout).toMatch(
      /check\s+SELECT\s+Dead tuples/,
    );
    expect((await cli(['match', 'too', 'many', 'connections'])).stdout).toMatch(
      /^1\. [a-z-]+#connection-pool-exhaustion/,
    );
  });

  it('a mistyped procedure id gets a did-you-mean and terminal commands, not slash commands', async () => {
    const result = await cli(['show', 'postgres-health#vacum-table']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Did you mean `postgres-health#vacuum-table`');
    expect(result.stderr).toContain('`runbook-bot list` shows them all');
    expect(result.stderr).not.toContain('/runbook');
  });

  it("run executes a seed procedure's checks against a target and lists its actions unrun", async () => {
    const result = await cli(['run', 'production-operations-runbook#2-shopify-sync-queue-stuck'], {
      TARGET_DATABASE_URL: db.url,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/queued\s+1/);
    expect(result.stdout).toContain('not run: actions need a preview and approval in Slack');
    // The terminal's own next step for an action: its plan.
    expect(result.stdout).toContain(
      '`runbook-bot preview production-operations-runbook#2-shopify-sync-queue-stuck 4` shows its plan',
    );
    expect(result.code).toBe(0);
    const { rows } = await db.admin.query('SELECT count(*)::int AS n FROM shopify_sync_queue');
    expect(rows[0].n).toBe(2);
  });

  it("run prints what the bot's own related check found, which does not change the exit code", async () => {
    await db.admin.query(DUPLICATE_TRIGGERS);
    try {
      const id = 'hampton-mowerpower-system-runbook#issue-duplicate-triggers-causing-conflicts';
      const env = { TARGET_DATABASE_URL: db.url };
      const text = await cli(['run', id], env);
      expect(text.stdout).toContain(
        "The bot's own check duplicate_triggers on default: warn — 1 duplicate trigger pair; public.jobs_db runs bump_version() twice BEFORE UPDATE (jobs_bump_version, jobs_bump_version_v2) → postgres-health#drop-duplicate-trigger schema=public table=jobs_db trigger=jobs_bump_version_v2",
      );
      expect(text.code).toBe(0);
      const json = JSON.parse((await cli(['run', '--json', id], env)).stdout);
      expect(json.related).toEqual([
        expect.objectContaining({ check: 'duplicate_triggers', status: 'warn', target: 'default' }),
      ]);
      // A procedure no check relates to prints none.
      const other = await cli(['run', 'production-operations-runbook#2-shopify-sync-queue-stuck'], env);
      expect(other.stdout).not.toContain("The bot's own check");
    } finally {
      await db.admin.query(DUPLICATE_TRIGGERS_DROP);
    }
  });

  it('run shows each expectation met or not, puts the verdict in --json, and exits 1 when one is not met', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'expect-'));
    writeFileSync(
      join(dir, 'queue.md'),
      [
        '# Queue',
        '',
        '## Queue stuck',
        '',
        '<!-- runbook: expect="failed = 0" -->',
        '```sql',
        "SELECT count(*) FILTER (WHERE status = 'failed') AS failed FROM shopify_sync_queue;",
        '```',
        '',
        '```sql',
        'SELECT id FROM shopify_sync_queue WHERE retry_count > max_retries;',
        '```',
        '',
        'This should return no rows.',
        '',
      ].join('\n'),
    );
    const env = { TARGET_DATABASE_URL: db.url, RUNBOOKS_DIR: dir };
    const text = await cli(['run', 'queue#queue-stuck'], env);
    const json = await cli(['run', '--json', 'queue#queue-stuck'], env);
    rmSync(dir, { recursive: true, force: true });
    expect(text.stdout).toContain('✘ expected failed = 0, got failed = 1');
    expect(text.stdout).toContain('✔ expected 0 rows: met (0 rows)');
    expect(text.code).toBe(1);
    expect(JSON.parse(json.stdout).results.map((r: { verdict?: unknown }) => r.verdict)).toEqual([
      { met: false, expected: 'failed = 0', got: 'failed = 1' },
      { met: true, expected: '0 rows', got: '0 rows' },
    ]);
  });

  it("run refuses a diagnosis's missing parameter, naming its type and an example", async () => {
    const result = await cli(['run', 'production-operations-runbook#5-authentication-issues'], {
      TARGET_DATABASE_URL: db.url,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('user_email is missing: an email address');
  });

  it('run does not ask for the pid the fix needs: it runs the diagnosis and says what waits for it', async () => {
    const result = await cli(['run', 'postgres-health#cancel-long-running-query'], {
      TARGET_DATABASE_URL: db.url,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "not run yet: needs pid, which the fix's preview asks for; it runs before and after the fix",
    );
  });

  it('run names a parameter the procedure does not take (a typo), as /runbook run does', async () => {
    const result = await cli(['run', 'postgres-health#cancel-long-running-query', 'pid=12', 'pdi=2'], {
      TARGET_DATABASE_URL: db.url,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('pdi is not a parameter of this procedure; it takes pid (integer)');
  });

  describe('preview', () => {
    const reset = 'production-operations-runbook#2-shopify-sync-queue-stuck';

    it("prints an action's plan, made in a transaction that is rolled back, and executes nothing", async () => {
      // Out of retries: what step 6 resets.
      await db.admin.query("UPDATE shopify_sync_queue SET retry_count = 3 WHERE status = 'failed'");
      const text = await cli(['preview', reset, '6'], { TARGET_DATABASE_URL: db.url });
      expect(text.stderr).toBe('');
      expect(text.stdout).toMatch(
        /Step 6: Reset failed items to retry .* on default · risk high · plan [0-9a-f]{12}/,
      );
      expect(text.stdout).toContain('Plan: UPDATE would change 1 row');
      expect(text.stdout).toContain('Preview only: nothing was executed');
      expect(text.code).toBe(0);
      const json = await cli(['preview', '--json', reset, '6'], { TARGET_DATABASE_URL: db.url });
      const printed = JSON.parse(json.stdout);
      expect(printed).toMatchObject({ executed: false, step: { number: 6 }, plan: { affectedRows: 1 } });
      const { rows } = await db.admin.query(
        "SELECT count(*)::int AS n FROM shopify_sync_queue WHERE status = 'failed'",
      );
      expect(rows[0].n).toBe(1);
    });

    it('a plan with nothing to do says so and exits 1', async () => {
      const result = await cli(['preview', 'postgres-health#cancel-long-running-query', '2', 'pid=999999'], {
        TARGET_DATABASE_URL: db.url,
      });
      expect(result.stdout).toContain('Nothing to do:');
      expect(result.code).toBe(1);
    });

    it('validates parameters as the Preview form does, and names the steps that can be previewed', async () => {
      const cancel = 'postgres-health#cancel-long-running-query';
      const env = { TARGET_DATABASE_URL: db.url };
      const missing = await cli(['preview', cancel, '2'], env);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toContain('pid is missing: an integer');
      const invalid = await cli(['preview', cancel, '2', 'pid=abc'], env);
      expect(invalid.stderr).toMatch(/pid/);
      expect(invalid.code).toBe(3);
      const typo = await cli(['preview', cancel, '2', 'pdi=1'], env);
      expect(typo.stderr).toContain('pdi is not a parameter of step 2; it takes pid (integer)');
      const check = await cli(['preview', cancel, '1'], env);
      expect(check.stderr).toContain(`step 1 of ${cancel} is a check`);
      expect(check.stderr).toContain('its actions are step 2');
      const outOfRange = await cli(['preview', cancel, '9'], env);
      expect(outOfRange.stderr).toContain('"9" is not a step of');
    });
  });
});
