import type pg from 'pg';
import { leftStatementRunning } from '../targets/connectionErrors.js';
import type { TargetSettings } from '../targets/target.js';

/**
 * How previews and executions hold a connection and bound what it may do: the target's
 * statement and lock timeouts on every statement, and a connection that failed or whose
 * session state may have changed never goes back to the pool.
 */

interface Timeouts {
  statementMs: number;
  lockMs: number;
}

function timeouts(settings: TargetSettings): Timeouts {
  const statementMs = Math.max(1, Math.floor(settings.statementTimeoutMs));
  // A lock wait longer than the statement timeout would be cut by it anyway.
  const lockMs = Math.max(1, Math.floor(Math.min(settings.lockTimeoutMs, statementMs)));
  return { statementMs, lockMs };
}

/**
 * `BEGIN` with the timeouts set for this transaction only. Integers we computed, never user
 * text: safe to inline (SET cannot take bind parameters). The idle timeout ends the
 * transaction, and its locks, if this process stalls between statements.
 */
export function beginSql(settings: TargetSettings, readOnly = false): string {
  const { statementMs, lockMs } = timeouts(settings);
  return (
    `BEGIN${readOnly ? ' READ ONLY' : ''}; SET LOCAL statement_timeout = ${statementMs}; ` +
    `SET LOCAL lock_timeout = ${lockMs}; SET LOCAL idle_in_transaction_session_timeout = ${statementMs + 5000}`
  );
}

/** Session-level timeouts, for statements that cannot run inside a transaction block. */
export function sessionTimeoutsSql(settings: TargetSettings): string {
  const { statementMs, lockMs } = timeouts(settings);
  return `SET statement_timeout = ${statementMs}; SET lock_timeout = ${lockMs}`;
}

/**
 * Runs `work` on one pooled connection. A connection whose work failed is destroyed: it may
 * be mid-transaction, or broken. With `discard`, it is destroyed after success too, because
 * the work may have changed session state (settings, roles, LISTEN) the next user would inherit.
 */
export async function withConnection<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: { discard?: boolean } = {},
): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    return await work(client);
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(failure ?? options.discard === true);
  }
}

/**
 * Runs `work` in a transaction that is always rolled back: what a preview may do. The
 * original error wins over a failing ROLLBACK; either way the caller's `withConnection`
 * destroys the connection. A statement still running after pg's read timeout gets no
 * ROLLBACK behind it: it would only wait there (its own timeout long), and the server rolls
 * back when the connection is destroyed.
 */
export async function inRolledBackTransaction<T>(
  client: pg.PoolClient,
  settings: TargetSettings,
  readOnly: boolean,
  work: () => Promise<T>,
): Promise<T> {
  await client.query(beginSql(settings, readOnly));
  let result: T;
  try {
    result = await work();
  } catch (err) {
    if (!leftStatementRunning(err)) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  await client.query('ROLLBACK');
  return result;
}

/** Bind values only when there are some: no values keeps pg on the simple protocol. */
export function queryArgs(values: Array<string | number>): Array<string | number> | undefined {
  return values.length > 0 ? values : undefined;
}
