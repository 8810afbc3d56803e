import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrateStateDatabase } from '../../src/store/migrate.js';
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
});
