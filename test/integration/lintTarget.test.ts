import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LintFinding } from '../../src/runbooks/lint/findings.js';
import { cli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { SEED_SHAPES as SHAPES } from '../support/seedShapes.js';

const [server] = inject('postgresServers');
const seed = (name: string) => fileURLToPath(new URL(`../fixtures/seeds/${name}`, import.meta.url));

/**
 * What lint finds on each seed: `[line, rule, a fragment of the message or suggestion]`. Every
 * finding is listed, so a new false alarm fails as surely as a missed one.
 */
const EXPECTED: Record<string, { code: number; findings: Array<[number, string, string]> }> = {
  '000_5aa7576ec96abee9.txt': {
    code: 2,
    findings: [
      [89, 'sql-in-other-fence', 'this typescript block looks like SQL (2 statements)'],
      [128, 'example-value', "'<job-number>'"],
      [133, 'example-value', "'0422408306' looks like one record's phone"],
      [134, 'example-value', "'JB2025-0061'"],
      [159, 'template-identifier', 'so this DROP TRIGGER IF EXISTS does nothing there'],
      [163, 'template-identifier', 'table table_name does not exist'],
      [165, 'template-identifier', 'function trigger_function does not exist'],
    ],
  },
  '001_fa7a400fb5f384a8.txt': {
    code: 2,
    findings: [
      [160, 'unknown-column', 'pg_stat_user_indexes calls it relname'],
      [346, 'renamed-column', 'use total_exec_time'],
      [347, 'renamed-column', 'use mean_exec_time'],
      [357, 'unknown-column', 'pg_stat_user_tables calls it relname'],
    ],
  },
  '002_4f3004b0bed5cbcb.txt': {
    code: 2,
    findings: [
      [93, 'example-value', "'user@example.com' looks like an email address"],
      [248, 'renamed-column', 'pg_stat_statements.mean_time was renamed mean_exec_time in PostgreSQL 13'],
      [248, 'renamed-column', 'use total_exec_time'],
    ],
  },
  '003_dab589b8c9148727.txt': {
    code: 2,
    findings: [
      [304, 'renamed-column', 'use mean_exec_time'],
      [304, 'renamed-column', 'use total_exec_time'],
      [357, 'renamed-column', 'use mean_exec_time'],
      // Its alert table's rows no health check measures are not watched, and lint says so.
      [341, 'ignored-threshold', 'no health check measures "Low Stock"'],
      [342, 'ignored-threshold', 'no health check measures "Failed Queries"'],
    ],
  },
  '004_95e26377be71e20e.txt': {
    code: 1,
    findings: [[279, 'example-value', "mark it as a parameter: '<store-key>'"]],
  },
};

interface LintedRunbook {
  findings: LintFinding[];
}

describe('runbook-bot lint --target on the five seeds, each against a database shaped like it', () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of databases) await db.drop();
  });

  for (const file of Object.keys(SHAPES))
    it(`lints ${file}: exactly the statements that would fail or mislead`, async () => {
      const db = await createTestDatabase(server!.url, { demoSchema: false });
      databases.push(db);
      await db.admin.query(SHAPES[file]!);
      const result = await cli(['lint', '--json', '--target', 'default', seed(file)], {
        TARGET_DATABASE_URL: db.url,
      });
      const [runbook] = JSON.parse(result.stdout) as LintedRunbook[];
      const found = runbook!.findings.map((finding) => [
        finding.line,
        finding.rule,
        `${finding.message} / ${finding.suggestion ?? ''}`,
      ]);
      const expected = EXPECTED[file]!;
      expect(found.map(([line, rule]) => `${line} ${rule}`).sort()).toEqual(
        expected.findings.map(([line, rule]) => `${line} ${rule}`).sort(),
      );
      for (const [line, rule, fragment] of expected.findings)
        expect(
          found.some(([l, r, text]) => l === line && r === rule && String(text).includes(fragment)),
          `${line} ${rule} ${fragment}`,
        ).toBe(true);
      // Statements belong to a procedure; an alert table's rows belong to the runbook.
      for (const finding of runbook!.findings)
        if (finding.rule !== 'ignored-threshold') expect(finding.procedure).toMatch(/#/);
      expect(result.code).toBe(expected.code);
      // PREPARE outlives a rollback: lint deallocates what it prepared.
      const { rows } = await db.admin.query(
        "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'runbook_bot_lint'",
      );
      expect(rows[0].n).toBe(0);
    });
});

const TEAM_RUNBOOK = `# Team

## Broken names

\`\`\`sql
SELECT id, stauts FROM jobs;
\`\`\`

\`\`\`sql
SELECT * FROM job;
\`\`\`

\`\`\`sql
SELECT j.id
FROM jobs j
JOIN customer c ON c.id = j.customer_id;
\`\`\`

\`\`\`sql
SELECT lenght(status) FROM jobs;
\`\`\`

\`\`\`sql
WITH recent AS (SELECT * FROM jobs) SELECT count(*) FROM recent;
\`\`\`

\`\`\`sql
EXPLAIN ANALYZE
SELECT nope FROM jobs;
\`\`\`

\`\`\`sql
VACUUM ANALYZE jobz;
\`\`\`

\`\`\`sql
DROP TRIGGER IF EXISTS jobs_audit ON jobs;
\`\`\`

\`\`\`sql
REINDEX INDEX jobs_status_idx;
\`\`\`

\`\`\`sql
DROP INDEX IF EXISTS jobs_old_idx;
SELECT extract(epoch FROM now()), trim(status) FROM jobs;
\`\`\`

## Own functions

\`\`\`sql
SELECT tripwire(1), j.missing FROM jobs j;
\`\`\`

\`\`\`sql
UPDATE jobs SET status = 'done' WHERE id = '[job-id]';
\`\`\`

\`\`\`sql
VACUUM (ANALYZE) <schema>.<table>;
DROP TRIGGER <trigger> ON jobs;
\`\`\`
`;

describe('runbook-bot lint --target resolves each statement without running it', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase(server!.url, { demoSchema: false });
    await db.admin.query(`
      CREATE TABLE customers (id text PRIMARY KEY, name text);
      CREATE TABLE jobs (id text PRIMARY KEY, status text, customer_id text);
      CREATE INDEX jobs_status_idx ON jobs (status);
      CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER jobs_audit_trg BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION audit();
      -- Lies about its volatility: planning a call on a constant would run it.
      CREATE FUNCTION tripwire(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
        $$ BEGIN RAISE EXCEPTION 'tripwire ran'; END $$;`);
    dir = mkdtempSync(join(tmpdir(), 'lint-target-'));
    writeFileSync(join(dir, 'team.md'), TEAM_RUNBOOK);
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('names unknown tables, columns, functions and triggers with the line and a near name', async () => {
    const file = join(dir, 'team.md');
    const result = await cli(['lint', '--target', 'default', file], { TARGET_DATABASE_URL: db.url });
    const lines = result.stdout.split('\n').filter((line) => /^ {2}(error|warning) /.test(line));
    expect(lines).toEqual([
      `  error ${file}:6 (team#broken-names): column "stauts" does not exist [unknown-column]`,
      `  error ${file}:10 (team#broken-names): table job does not exist on default [unknown-table]`,
      `  error ${file}:16 (team#broken-names): table customer does not exist on default [unknown-table]`,
      `  error ${file}:20 (team#broken-names): function lenght does not exist on default [unknown-function]`,
      `  error ${file}:29 (team#broken-names): column "nope" does not exist [unknown-column]`,
      `  error ${file}:33 (team#broken-names): table jobz does not exist on default [unknown-table]`,
      `  warning ${file}:37 (team#broken-names): trigger jobs_audit does not exist on table jobs of default, so this DROP TRIGGER IF EXISTS does nothing there [unknown-object]`,
      `  warning ${file}:45 (team#broken-names): index jobs_old_idx does not exist on default, so this DROP INDEX IF EXISTS does nothing there [unknown-table]`,
      `  error ${file}:52 (team#own-functions): column missing does not exist in jobs [unknown-column]`,
    ]);
    expect(result.stdout).toContain('Perhaps you meant to reference the column "jobs.status"');
    expect(result.stdout).toContain('did you mean customers?');
    expect(result.stdout).toMatch(/did you mean [\w, ]*\blength\b/);
    expect(result.stdout).toContain('did you mean jobs?');
    expect(result.stdout).toContain('did you mean jobs_audit_trg?');
    expect(result.stdout).not.toContain('tripwire ran');
    expect(result.code).toBe(2);
    const { rows } = await db.admin.query('SELECT count(*)::int AS n FROM pg_prepared_statements');
    expect(rows[0].n).toBe(0);
  });

  it('without --target, says nothing of the catalog', async () => {
    const result = await cli(['lint', join(dir, 'team.md')]);
    expect(result.stdout).not.toMatch(/\[unknown-/);
    expect(result.code).toBe(0);
  });

  it('names a target that is not configured', async () => {
    const result = await cli(['lint', '--target', 'nope', join(dir, 'team.md')], {
      TARGET_DATABASE_URL: db.url,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('nope');
  });
});
