import type pg from 'pg';

/**
 * Runs `work` in a transaction on a connection of its own: COMMIT when it returns, ROLLBACK
 * when it throws. A connection that died, or whose ROLLBACK failed, is discarded, not
 * returned to the pool where the next caller would find it broken or mid-transaction.
 */
export async function inTransaction<T>(db: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  // A connection that dies while held reports it here (not as an unhandled 'error' event).
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
