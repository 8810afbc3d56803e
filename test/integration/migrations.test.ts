import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { startService } from '../../src/service.js';
import { migrateStateDatabase } from '../../src/store/migrate.js';
import { migrateStateDatabaseIsolated } from '../../src/store/migrateIsolated.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');

describe('state database migrations', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(server!.url, { demoSchema: false });
  });
  afterAll(() => database.drop());

  it('lets replicas that boot together on a fresh database all start, migrating once', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => migrateStateDatabase(database.url)),
    );
    expect(results.map((result) => result.status)).toEqual(Array(6).fill('fulfilled'));
    const applied = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
    const { rows } = await database.admin.query<{ count: string }>(
      'SELECT count(*) FROM runbook_bot_migrations',
    );
    expect(applied.length).toBe(Number(rows[0]?.count));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await expect(client.query('SELECT count(*) FROM runs')).resolves.toBeTruthy();
    await client.end();
  });

  it('migrates from a child process of its own, racing replicas included, and logs through the caller', async () => {
    const fresh = await createTestDatabase(server!.url, { demoSchema: false });
    try {
      const lines: Array<{ details: object; message: string }> = [];
      const logger = {
        debug: () => undefined,
        info: (details: object, message: string) => lines.push({ details, message }),
      } as unknown as Logger;
      const results = await Promise.all(
        Array.from({ length: 3 }, () => migrateStateDatabaseIsolated(fresh.url, logger)),
      );
      const migrations = readdirSync(fileURLToPath(new URL('../../migrations', import.meta.url))).length;
      expect(results.flat()).toHaveLength(migrations);
      const migrated = lines.filter((line) => line.message === 'state database migrated');
      expect(migrated).toEqual([
        { details: { applied: results.flat() }, message: 'state database migrated' },
      ]);
      await expect(migrateStateDatabaseIsolated(fresh.url, logger)).resolves.toEqual([]);
      // A failure comes back from the child with its message.
      await expect(
        migrateStateDatabaseIsolated('postgres://nobody@127.0.0.1:1/none', logger),
      ).rejects.toThrow(/ECONNREFUSED|connect/);
    } finally {
      await fresh.drop();
    }
  });

  it('says which setting to fix when the state database cannot be used, instead of a stack trace', async () => {
    const env = {
      TARGET_DATABASE_URL: database.url,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 'test-signing-secret',
    };
    expect(() => loadServiceConfig({ ...env, DATABASE_URL: 'localhost/runbook' }, { mode: 'bot' })).toThrow(
      /DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/,
    );
    const unreachable = 'postgres://nobody@127.0.0.1:1/state';
    const config = loadServiceConfig({ ...env, DATABASE_URL: unreachable }, { mode: 'worker' });
    const starting = startService({ mode: 'worker', config, logger: createLogger({ level: 'silent' }) });
    await expect(starting).rejects.toBeInstanceOf(ConfigError);
    await expect(starting).rejects.toThrow(
      'Cannot reach the state database (DATABASE_URL): connection refused by 127.0.0.1:1 (is Postgres running and listening there?).',
    );
  });

  it('moves reports stored per run into shared reports, and back on the way down', async () => {
    const dir = fileURLToPath(new URL('../../migrations', import.meta.url));
    // Down to just before shared reports: that migration and every one after it.
    const fromSharedReports = readdirSync(dir).filter(
      (file) => file >= '1733000000000_shared-reports.sql',
    ).length;
    const migrate = (direction: 'up' | 'down') =>
      runner({
        databaseUrl: database.url,
        dir,
        direction,
        count: direction === 'down' ? fromSharedReports : Number.POSITIVE_INFINITY,
        migrationsTable: 'runbook_bot_migrations',
        log: () => undefined,
      });
    const db = database.admin;
    // The schema before shared reports, with a run as it was stored then.
    await migrate('down');
    const report = {
      target: 'prod',
      status: 'warn',
      findings: [{ id: 'connections', status: 'warn', summary: '90%' }],
    };
    await db.query(
      `INSERT INTO runs (id, kind, target, requested_by, status, report, report_status)
       VALUES ('00000000-0000-4000-8000-000000000001', 'health', 'prod', 'U1', 'done', $1, 'warn')`,
      [JSON.stringify(report)],
    );
    await db.query(
      `INSERT INTO findings VALUES ('00000000-0000-4000-8000-000000000001', 'connections', 'warn', '90%')`,
    );

    await migrate('up');
    const { rows } = await db.query(
      `SELECT h.status, h.report, f.check_id, f.summary FROM runs r
         JOIN health_reports h ON h.id = r.report_id JOIN report_findings f ON f.report_id = h.id`,
    );
    expect(rows).toEqual([{ status: 'warn', report, check_id: 'connections', summary: '90%' }]);

    await migrate('down');
    const back = await db.query('SELECT r.report, f.check_id FROM runs r JOIN findings f ON f.run_id = r.id');
    expect(back.rows).toEqual([{ report, check_id: 'connections' }]);
    await migrate('up');
  });
});
