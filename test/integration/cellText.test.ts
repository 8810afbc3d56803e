import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { executeAction } from '../../src/remediation/execute.js';
import { computePlan } from '../../src/remediation/plan.js';
import { runProcedureChecks } from '../../src/runbooks/execute/procedureChecks.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { ActionStep } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { TargetPools } from '../../src/targets/pools.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../support/databases.js';

/*
 * A value read from a target reads as psql prints it, whatever its type, wherever it came
 * from: a check's rows, a DML preview's sample and an executed action's output. Each expected
 * text is what `psql -At` prints for the expression (checked against psql itself below,
 * where it is installed). `::text` is not the same: it says true for t and trims char(n).
 */
const [server] = inject('postgresServers');

const VALUES: Array<[expression: string, psql: string]> = [
  ['42::int2', '42'],
  ['2147483647::int4', '2147483647'],
  ['9223372036854775807::int8', '9223372036854775807'],
  ['12345678901234567890.123456789::numeric', '12345678901234567890.123456789'],
  ['0.1::float4', '0.1'],
  ['0.1::float8 * 3', '0.30000000000000004'],
  ["'NaN'::float8", 'NaN'],
  ['true', 't'],
  ['false', 'f'],
  ["'plain text'::text", 'plain text'],
  ["'ab'::char(4)", 'ab  '],
  ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ["'2026-11-24'::date", '2026-11-24'],
  ["'10:05:06.5'::time", '10:05:06.5'],
  ["'2026-11-24 10:05:06.123456'::timestamp", '2026-11-24 10:05:06.123456'],
  // The database's TimeZone is Europe/Berlin: the offset is the zone's, microseconds kept.
  ["'2026-11-24 10:05:06.123456+00'::timestamptz", '2026-11-24 11:05:06.123456+01'],
  ["'2026-07-01 00:00:00+00'::timestamptz", '2026-07-01 02:00:00+02'],
  ["'4 minutes 51.123 seconds'::interval", '00:04:51.123'],
  ["'1 year 2 months 3 days 4 hours'::interval", '1 year 2 mons 3 days 04:00:00'],
  ["'-1 day 2 hours'::interval", '-1 days +02:00:00'],
  ['ARRAY[1, 2, 3]', '{1,2,3}'],
  ["ARRAY['a', 'b c', NULL, '']", '{a,"b c",NULL,""}'],
  ['ARRAY[[1, 2], [3, 4]]', '{{1,2},{3,4}}'],
  [`'{"b": [1,2],  "a": 1}'::json`, '{"b": [1,2],  "a": 1}'],
  [`'{"b": [1,2],  "a": 1}'::jsonb`, '{"a": 1, "b": [1, 2]}'],
  ["'\\x6162ff'::bytea", '\\x6162ff'],
  ["'192.168.0.1/24'::inet", '192.168.0.1/24'],
  ["'08:00:2b:01:02:03'::macaddr", '08:00:2b:01:02:03'],
  ["'[1,10)'::int4range", '[1,10)'],
  ["'pg_class'::regclass", 'pg_class'],
  ['point(1.5, 2)', '(1.5,2)'],
  ['NULL::int', 'NULL'],
];

describe('values from a target read as psql prints them', () => {
  let db: TestDatabase;
  const pools = new TargetPools();

  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server!.url, { demoSchema: false });
    // Set on the database, as a team would: every session the bot opens there has it.
    await db.admin.query(`ALTER DATABASE ${db.name} SET TimeZone = 'Europe/Berlin'`);
    await db.admin.query(
      `CREATE TABLE typed AS SELECT 1 AS id, ${VALUES.map(([expression], i) => `${expression} AS c${i}`).join(', ')}`,
    );
  });
  afterAll(async () => {
    await pools.closeAll();
    await db?.drop();
  });

  const columns = VALUES.map((_, i) => `c${i}`).join(', ');
  const psql = VALUES.map(([, text]) => text);

  it("renders a check's row of every common type as psql does", async () => {
    const runbook = parseRunbook(
      ['# Types', '## Every type', '```sql', `SELECT ${columns} FROM typed;`, '```'].join('\n'),
      'types.md',
    );
    const target = testTarget(db.url);
    const [outcome] = await runProcedureChecks(
      pools.readOnly(target),
      target,
      runbook.procedures[0]!.steps,
      {},
    );
    expect(outcome!.result?.status).toBe('ok');
    const row = outcome!.result!.rows[0]!;
    // Paired with its expression, so a failure names the type.
    expect(VALUES.map(([expression], i) => `${expression} → ${row[i]}`)).toEqual(
      VALUES.map(([expression, text]) => `${expression} → ${text}`),
    );
  });

  // psql itself, where it is installed: the expected texts above are what it prints.
  it.skipIf(!psqlPath())('prints the same texts as psql does for that row', () => {
    const printed = execFileSync(
      psqlPath()!,
      ['-XAtq', '-P', 'null=NULL', '-F', '\x1f', '-c', `SELECT ${columns} FROM typed`, db.url],
      { encoding: 'utf8' },
    );
    expect(printed.replace(/\n$/, '').split('\x1f')).toEqual(psql);
  });

  it("renders a DML preview's sample and an executed action's output the same way", async () => {
    const action = (sql: string): ActionStep => {
      const runbook = parseRunbook(
        ['# Types', '## Fix', '**Fix:**', '```sql', sql, '```'].join('\n'),
        'fix.md',
      );
      const step = runbook.procedures[0]!.steps[0]!;
      if (step.kind !== 'action') throw new Error(`${sql} parsed as a ${step.kind}`);
      return step;
    };
    const target = testTarget(db.url);
    const pool = pools.remediation(target);
    const update = action(`UPDATE typed SET id = 1 WHERE id = 1 RETURNING ${columns};`);
    const plan = await computePlan(pool, target, update, []);
    expect(plan.sample?.rows[0]).toEqual(psql);

    const result = await executeAction(pool, target, update, [], plan);
    expect(result).toMatchObject({ status: 'succeeded', output: { rows: [psql] } });
  });
});

function psqlPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v psql'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
