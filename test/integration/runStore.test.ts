import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HealthReport } from '../../src/runbooks/health/types.js';
import { migrateStateDatabase } from '../../src/store/migrate.js';
import { RunStore } from '../../src/store/runs.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');

const REPORT: HealthReport = {
  target: 'prod',
  status: 'warn',
  startedAt: '2026-11-24T10:00:00.000Z',
  durationMs: 42,
  serverVersion: '18.4',
  findings: [],
};

describe('runs sharing one health check', () => {
  let state: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    state = await createTestDatabase(server!.url, { demoSchema: false });
    await migrateStateDatabase(state.url);
    pool = new pg.Pool({ connectionString: state.url, max: 10 });
  });
  afterAll(async () => {
    await pool?.end();
    await state?.drop();
  });

  it('store the report once, and a batch of them reads it back once', async () => {
    const writer = new RunStore(pool);
    const runs = await writer.createHealthRuns(
      Array.from({ length: 5 }, (_, i) => ({ target: 'prod', requestedBy: `U${i}`, channelId: `C${i}` })),
    );
    const ids = runs.map(({ run }) => run.id);
    await writer.saveReports(ids.slice(0, 3), REPORT);
    await writer.saveReports(ids.slice(3), REPORT);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM health_reports');
    expect(rows[0]!.n).toBe(1);

    // A fresh store (another process): its first batch read asks for the report once.
    const reads: string[] = [];
    const counted = new Proxy(pool, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver);
        return (text: string, values?: unknown[]) => {
          reads.push(text);
          return target.query(text, values);
        };
      },
    });
    const reader = new RunStore(counted);
    const read = await reader.getMany(ids);
    expect(read.map((run) => run.report)).toEqual(Array(5).fill(REPORT));
    expect(reads.filter((text) => text.includes('FROM health_reports'))).toHaveLength(1);
  });
});
