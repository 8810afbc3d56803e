import type pg from 'pg';

export interface TransactionTimeouts {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
}

/**
 * One connection running a sequence of diagnostics, each in its own `BEGIN READ ONLY …
 * ROLLBACK` with the timeouts set locally: a diagnostic can neither write, nor wait on a
 * lock for long, nor leave the session idle in a transaction if this process stalls.
 *
 * Each transaction's ROLLBACK travels with the next one's BEGIN, so a check costs one
 * round trip besides its own queries; on a remote target that is most of the overhead.
 */
export class ReadOnlySession {
  private transactionOpen = false;

  constructor(readonly client: pg.PoolClient) {}

  async run<T>(timeouts: TransactionTimeouts, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const begin = beginReadOnly(timeouts);
    const previous = this.transactionOpen;
    this.transactionOpen = false;
    try {
      await this.client.query(previous ? `ROLLBACK; ${begin}` : begin);
    } catch (err) {
      throw new BrokenConnectionError(err);
    }
    this.transactionOpen = true;
    // A failed query leaves the transaction aborted; the next BEGIN's ROLLBACK clears it.
    return work(this.client);
  }

  /** Ends the open transaction; a failure means the connection is unusable. */
  async close(): Promise<void> {
    if (!this.transactionOpen) return;
    this.transactionOpen = false;
    try {
      await this.client.query('ROLLBACK');
    } catch (err) {
      throw new BrokenConnectionError(err);
    }
  }
}

/** `BEGIN READ ONLY` with the timeouts set locally, for one diagnostic's transaction. */
export function beginReadOnly(timeouts: TransactionTimeouts): string {
  const statementMs = Math.max(1, Math.floor(timeouts.statementTimeoutMs));
  const lockMs = Math.max(1, Math.floor(Math.min(timeouts.lockTimeoutMs, statementMs)));
  // Integers we computed, never user text: safe to inline (SET cannot take bind parameters).
  return (
    `BEGIN READ ONLY; SET LOCAL statement_timeout = ${statementMs}; SET LOCAL lock_timeout = ${lockMs}; ` +
    `SET LOCAL idle_in_transaction_session_timeout = ${statementMs + 5000}`
  );
}

/** The connection could not begin or end a transaction: do not reuse it. */
export class BrokenConnectionError extends Error {
  override name = 'BrokenConnectionError';
  constructor(readonly original: unknown) {
    super((original as Error)?.message ?? String(original));
  }
}
