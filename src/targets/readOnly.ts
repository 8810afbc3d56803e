import type pg from 'pg';

export interface TransactionTimeouts {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
}

/**
 * Runs `work` inside `BEGIN READ ONLY … ROLLBACK` with the timeouts set locally, so a
 * diagnostic can neither write nor wait on a lock for long, nor leave the session idle in a
 * transaction if this process stalls. The setup is one round trip.
 */
export async function withReadOnlyTransaction<T>(
  client: pg.PoolClient,
  timeouts: TransactionTimeouts,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const statementMs = Math.max(1, Math.floor(timeouts.statementTimeoutMs));
  const lockMs = Math.max(1, Math.floor(Math.min(timeouts.lockTimeoutMs, statementMs)));
  // Integers we computed, never user text: safe to inline (SET cannot take bind parameters).
  await client.query(
    `BEGIN READ ONLY; SET LOCAL statement_timeout = ${statementMs}; SET LOCAL lock_timeout = ${lockMs}; ` +
      `SET LOCAL idle_in_transaction_session_timeout = ${statementMs + 5000}`,
  );
  let result: T;
  try {
    result = await work(client);
  } catch (err) {
    // After a statement or lock timeout the transaction is aborted but the connection is
    // fine; a failed ROLLBACK means it is not, and the caller must discard the client.
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      throw new BrokenConnectionError(err, rollbackError);
    });
    throw err;
  }
  await client.query('ROLLBACK');
  return result;
}

/** The work failed and the connection could not even roll back: do not reuse it. */
export class BrokenConnectionError extends Error {
  override name = 'BrokenConnectionError';
  constructor(
    readonly original: unknown,
    readonly rollbackError: unknown,
  ) {
    super((original as Error)?.message ?? String(original));
  }
}
