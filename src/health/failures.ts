import { redactText } from '../redact.js';
import { isConnectionFailure, leftStatementRunning } from '../targets/connectionErrors.js';
import type { CheckStatus } from './types.js';

interface PgError {
  code?: string;
  message?: string;
}

/** How a check that threw is reported: timeouts and missing privileges are findings, not crashes. */
export function describeCheckFailure(
  error: unknown,
  limits: { statementTimeoutMs: number; lockTimeoutMs: number; role: string },
): { status: Extract<CheckStatus, 'error' | 'skipped'>; summary: string; unexpected: boolean } {
  const err = (error ?? {}) as PgError;
  const message = redactText(err.message ?? String(error));
  if (err.code === '55P03') {
    return {
      status: 'error',
      summary: `timed out waiting for a lock (lock_timeout ${Math.round(limits.lockTimeoutMs)} ms): another session holds a conflicting lock`,
      unexpected: false,
    };
  }
  // The same SQLSTATE as a statement timeout, but a cancel: a stopping worker cancels what its
  // jobs run (or someone on the server did), and "timed out" would send the reader hunting.
  if (err.code === '57014' && /due to user request/i.test(message)) {
    return {
      status: 'error',
      summary:
        'cancelled (pg_cancel_backend): the worker was stopping, or someone on the server cancelled it',
      unexpected: false,
    };
  }
  if (err.code === '57014' || leftStatementRunning(err)) {
    return {
      status: 'error',
      summary: `timed out after ${Math.round(limits.statementTimeoutMs)} ms (statement_timeout)`,
      unexpected: false,
    };
  }
  if (err.code === '42501') {
    return {
      status: 'skipped',
      summary: `skipped: role ${limits.role} lacks a privilege (${message}); GRANT pg_monitor TO ${limits.role}`,
      unexpected: false,
    };
  }
  if (isConnectionFailure(error)) {
    return { status: 'error', summary: `connection lost: ${message}`, unexpected: false };
  }
  return { status: 'error', summary: `failed: ${message}`, unexpected: true };
}
