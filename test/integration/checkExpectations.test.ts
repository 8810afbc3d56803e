import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runProcedureChecks } from '../../src/runbooks/execute/procedureChecks.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { TargetPools } from '../../src/targets/pools.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../support/databases.js';

/*
 * A check that says what it should return gets a verdict when it runs: seed 000's daily spot
 * check ("All should have customer_name populated") and annotated checks, on real tables.
 */
const [server] = inject('postgresServers');
const SEED_000 = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/seeds/000_5aa7576ec96abee9.txt');

describe('check expectations on a real database', () => {
  let db: TestDatabase;
  const pools = new TargetPools();

  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server!.url, { demoSchema: false });
    await db.admin.query(`
      CREATE TABLE customers_db (id int PRIMARY KEY, name text, phone text);
      CREATE TABLE jobs_db (id serial PRIMARY KEY, job_number text NOT NULL, customer_id int,
                            deleted_at timestamptz);
      INSERT INTO customers_db VALUES (1, 'Ann', '0400000001'), (2, 'Bo', '0400000002');
      INSERT INTO jobs_db (job_number, customer_id) VALUES ('JB2025-0001', 1), ('JB2025-0002', 2);
      CREATE TABLE sync_queue (id int PRIMARY KEY, status text NOT NULL);
      INSERT INTO sync_queue VALUES (1, 'queued'), (2, 'failed');`);
  });
  afterAll(async () => {
    await pools.closeAll();
    await db?.drop();
  });

  it("judges seed 000's spot check: green while every job has its customer, red once one has none", async () => {
    const runbook = parseRunbook(readFileSync(SEED_000, 'utf8'), '000.txt');
    const spot = runbook.procedures.find((p) => p.title.includes('Data Integrity Spot Check'))!;
    const target = testTarget(db.url);
    const healthy = await runProcedureChecks(pools.readOnly(target), target, spot.steps, {});
    expect(healthy[0]!.result?.verdict).toEqual({
      met: true,
      expected: 'customer_name is not null',
      got: 'customer_name is not null in all 2 rows',
    });
    // The fault the page is about: a job whose customer is missing.
    await db.admin.query("INSERT INTO jobs_db (job_number, customer_id) VALUES ('JB2025-0061', 99)");
    const broken = await runProcedureChecks(pools.readOnly(target), target, spot.steps, {});
    expect(broken[0]!.result?.verdict).toEqual({
      met: false,
      expected: 'customer_name is not null',
      got: 'customer_name = NULL in 1 of 3 rows',
    });
  });

  it('judges annotated checks, and gives none to a check that failed to run', async () => {
    const { procedures } = parseRunbook(
      [
        '# Queue',
        '## Queue stuck',
        '<!-- runbook: expect="failed = 0" -->',
        '```sql',
        "SELECT count(*) FILTER (WHERE status = 'failed') AS failed FROM sync_queue;",
        '```',
        '<!-- runbook: expect="at least 1 row" -->',
        '```sql',
        "SELECT id FROM sync_queue WHERE status = 'queued';",
        '```',
        '<!-- runbook: expect="0 rows" -->',
        '```sql',
        'SELECT id FROM no_such_table;',
        '```',
      ].join('\n'),
      'queue.md',
    );
    const target = testTarget(db.url);
    const found = await runProcedureChecks(pools.readOnly(target), target, procedures[0]!.steps, {});
    expect(found.map(({ result }) => result?.verdict)).toEqual([
      { met: false, expected: 'failed = 0', got: 'failed = 1' },
      { met: true, expected: 'at least 1 row', got: '1 row' },
      undefined,
    ]);
    expect(found[2]!.result).toMatchObject({
      status: 'error',
      error: expect.stringContaining('no_such_table'),
    });
  });
});
