import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runbookThresholdLayer } from '../../src/health/runbookThresholds.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../support/databases.js';
import { finding, health } from '../support/health.js';

const servers = inject('postgresServers');

/** A team runbook whose alert table holds one database-size row. */
function sizeTable(warn: string, critical: string) {
  const runbook = parseRunbook(
    `# Team Ops\n\n## Alert Thresholds\n\n| Metric | Warning | Critical |\n|---|---|---|\n| DB Size | ${warn} | ${critical} |\n`,
    'team.md',
  );
  return runbookThresholdLayer([runbook])!;
}

describe.each(servers.slice(0, 1))("a runbook's alert thresholds on $label", (server) => {
  let db: TestDatabase;
  let size: number;
  beforeAll(async () => {
    db = await createTestDatabase(server.url);
    const { rows } = await db.admin.query<{ size: string }>(
      'SELECT pg_database_size(current_database()) AS size',
    );
    size = Number(rows[0]!.size);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('`> N` does not fire at exactly N bytes and `>= N` does; a byte less fires either way', async () => {
    const target = testTarget(db.url, { runbooks: ['team-ops'] });
    const run = async (warn: string, critical: string) =>
      finding(
        await health(target, { only: ['database_size'], runbookThresholds: sizeTable(warn, critical) }),
        'database_size',
      );
    /** The finding when the database measured exactly `bytes` (a fresh database still settles). */
    const atExactly = async (operator: string) => {
      let bytes = size;
      for (let attempt = 0; attempt < 20; attempt++) {
        const result = await run(`${operator} ${bytes}`, `> ${bytes * 2}`);
        const measured = Number(result.evidence[0]!.bytes);
        if (measured === bytes) return result;
        bytes = measured;
      }
      throw new Error(`the database size never held still (last ${bytes} bytes)`);
    };

    const above = await atExactly('>');
    expect(above.status).toBe('ok');
    expect(above.threshold).toMatchObject({ warn: Number(above.evidence[0]!.bytes) });
    expect((await atExactly('>=')).status).toBe('warn');
    expect((await run(`> ${size - 1}`, `> ${size * 4}`)).status).toBe('warn');
    expect((await run(`> ${size - 1}`, `> ${size - 1}`)).status).toBe('critical');
  });

  it("the target's own threshold wins over the runbook's and compares as the check always has", async () => {
    const target = testTarget(db.url, { thresholdOverrides: { 'database_size.warn': String(size) } });
    const report = await health(target, {
      only: ['database_size'],
      runbookThresholds: sizeTable(`> ${size * 2}`, `> ${size * 3}`),
    });
    expect(finding(report, 'database_size')).toMatchObject({ status: 'warn', threshold: { warn: size } });
  });
});
