import pg from 'pg';

/**
 * Session limits of every state-database connection of the long-running processes, so a
 * mistake (a transaction waiting on something it should not, a lock left behind) is an error
 * that one click or job reports, never a pool that waits for ever.
 *
 * Every transaction on this pool is a few short statements on rows of its own request, run,
 * incident or audit chain head, and waits on nothing outside the database while open:
 * - lock_timeout 5 s: a row or the audit chain lock is held for milliseconds; queued behind a
 *   hundred clicks it is still well under a second. Longer means a holder is stuck.
 * - statement_timeout 15 s: the heaviest statements here (a sweep's batch, a report's insert,
 *   an incident's timeline) take milliseconds; a 15 s one is hung, not busy.
 * - idle_in_transaction_session_timeout 10 s: between the statements of one transaction the
 *   process only computes; a transaction idle that long waits on something it must not.
 * - connectionTimeoutMillis 10 s: how long a caller waits for a free pool connection (or a new
 *   one), so an exhausted pool answers "timeout" instead of hanging every command.
 * Work that is legitimately long does not run on this pool: migrations use connections of
 * their own (node-pg-migrate in a child process), BullMQ's PostgreSQL backend its own pool,
 * `audit verify` and the other CLI reads theirs.
 */
export const STATE_SESSION_LIMITS = {
  lock_timeout: 5_000,
  statement_timeout: 15_000,
  idle_in_transaction_session_timeout: 10_000,
  connectionTimeoutMillis: 10_000,
} as const;

export function createStatePool(
  connectionString: string,
  options: { max: number; min?: number; application_name?: string },
): pg.Pool {
  return new pg.Pool({ connectionString, ...options, ...STATE_SESSION_LIMITS });
}
