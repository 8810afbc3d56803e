import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { inTransaction } from '../../src/store/transaction.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');

describe('inTransaction', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase(server!.url, { demoSchema: false });
    await db.admin.query('CREATE TABLE t (n int)');
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('commits what returns, rolls back what throws', async () => {
    await inTransaction(pool, (client) => client.query('INSERT INTO t VALUES (1)'));
    await expect(
      inTransaction(pool, async (client) => {
        await client.query('INSERT INTO t VALUES (2)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await pool.query('SELECT n FROM t')).rows).toEqual([{ n: 1 }]);
  });

  it('discards a connection that could not roll back instead of handing it out again', async () => {
    await expect(
      inTransaction(pool, (client) => client.query('SELECT pg_terminate_backend(pg_backend_pid())')),
    ).rejects.toThrow();
    // The pool's only slot holds a new, working connection, not the dead one.
    expect((await pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });
});
