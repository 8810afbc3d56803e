import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DEMO_SCHEMA } from '../../src/demo/schema.js';
import { migrateStateDatabase } from '../../src/store/migrate.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from '../../src/targets/target.js';

export interface TestDatabase {
  name: string;
  url: string;
  /** A superuser session on the test database, for setting up faults. */
  admin: pg.Client;
  drop(): Promise<void>;
}

/** A fresh database on `serverUrl`, optionally with the demo schema, dropped by `drop()`. */
export async function createTestDatabase(
  serverUrl: string,
  options: { demoSchema?: boolean } = {},
): Promise<TestDatabase> {
  const name = `t_${randomBytes(5).toString('hex')}`;
  const root = new pg.Client({ connectionString: serverUrl });
  await root.connect();
  try {
    await root.query(`CREATE DATABASE ${name}`);
  } finally {
    await root.end();
  }
  const url = withDatabase(serverUrl, name);
  const admin = new pg.Client({ connectionString: url, application_name: 'test-admin' });
  admin.on('error', () => undefined);
  await admin.connect();
  await admin.query(options.demoSchema === false ? 'CREATE EXTENSION pg_stat_statements' : DEMO_SCHEMA);
  return {
    name,
    url,
    admin,
    async drop() {
      await admin.end().catch(() => undefined);
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      try {
        // pool.end() resolves before its clients' connections have closed: a FORCE drop in that
        // moment terminates them, and the FATAL reaches a pool nobody listens to any more as an
        // unhandled error. Sessions that are closing anyway are given a moment to go.
        for (let tries = 0; tries < 10; tries++) {
          const { rows } = await cleanup.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
            [name],
          );
          if (rows[0]!.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

/** A fresh state database, migrated, with a pool on it; `drop()` ends the pool too. */
export interface StateDatabase extends TestDatabase {
  pool: pg.Pool;
}

export async function createStateDatabase(serverUrl: string, poolMax = 10): Promise<StateDatabase> {
  const database = await createTestDatabase(serverUrl, { demoSchema: false });
  await migrateStateDatabase(database.url);
  const pool = new pg.Pool({ connectionString: database.url, max: poolMax });
  return {
    ...database,
    pool,
    async drop() {
      await pool.end();
      await database.drop();
    },
  };
}

export function withDatabase(
  url: string,
  database: string,
  credentials?: { user: string; password: string },
): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  if (credentials) {
    parsed.username = credentials.user;
    parsed.password = credentials.password;
  }
  return parsed.toString();
}

export function testTarget(url: string, overrides: Partial<Target> = {}): Target {
  return {
    name: 'test',
    url,
    tags: [],
    settings: { ...DEFAULT_TARGET_SETTINGS },
    thresholdOverrides: {},
    source: 'test',
    ...overrides,
  };
}

/** Opens a session and keeps it open (closed by the returned function). */
export async function openSession(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
