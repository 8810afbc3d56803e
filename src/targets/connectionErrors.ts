import { errorText, redactText } from '../redact.js';

interface PgLikeError {
  code?: string;
  message?: string;
  errno?: number;
}

/**
 * Why a target could not be reached, in one line an on-call engineer can act on.
 * Never includes the password; the host and port are named because they are what to check.
 */
export function describeConnectionFailure(error: unknown, url: string, connectTimeoutMs?: number): string {
  const err = (error ?? {}) as PgLikeError;
  const where = hostOf(url);
  const message = redactText(err.message ?? String(error));
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${where} (is Postgres running and listening there?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${where} not found (check the hostname in the URL)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${where}`;
    case 'ECONNRESET':
      return `connection reset by ${where} (SSL required? try ?sslmode=require)`;
    case '28P01':
      return `password authentication failed (${message})`;
    case '28000':
      return `connection not allowed: ${message}`;
    case '3D000':
      return `${message} on ${where}`;
    case '53300':
      return `the server has no free connection slots (${message})`;
    case '57P03':
      return `the server is starting up or shutting down (${message})`;
  }
  if (/timeout/i.test(message))
    return connectTimeoutMs === undefined
      ? `no answer from ${where}`
      : `no answer from ${where} within ${Math.round(connectTimeoutMs / 1000)} s`;
  return `${message} (${where})`;
}

export function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}`;
  } catch {
    return 'the configured host';
  }
}

/** SQLSTATEs that mean the connection, not the query, failed. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '28P01',
  '28000',
  '3D000',
  '53300',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

export function isConnectionFailure(error: unknown): boolean {
  const err = (error ?? {}) as PgLikeError;
  if (err.code && CONNECTION_CODES.has(err.code)) return true;
  return /Connection terminated|timeout expired|connection timeout|not queryable/i.test(err.message ?? '');
}

/**
 * "connection lost (…)" when `error` says the connection to the target died under a query
 * (its backend terminated, the server stopped or restarted, the network cut), else undefined.
 */
export function connectionLostText(error: unknown): string | undefined {
  if (!isConnectionFailure(error)) return undefined;
  const err = (error ?? {}) as PgLikeError;
  return `connection lost (${redactText(err.message ?? String(error))})`;
}

/**
 * Whether `error` is pg's client-side query_timeout ("Query read timeout"), which fails the
 * caller's query but leaves the statement running on the connection (a network gone silent,
 * a server not answering): nothing more may be sent on that connection (it would wait in
 * pg's queue behind the statement, a second query in flight on one client, which pg
 * deprecates), and it must be discarded rather than reused.
 */
export function leftStatementRunning(error: unknown): boolean {
  return /Query read timeout/i.test(((error ?? {}) as PgLikeError).message ?? '');
}

/** Failures of opening a connection, as opposed to losing one that was open. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '28P01',
  '28000',
  '3D000',
  '53300',
  '57P03',
]);

/**
 * What went wrong, in one line: "could not connect (…)" when no connection could be opened,
 * "connection lost (…)" for one that died in use, else the error's message.
 */
export function failureText(error: unknown): string {
  const code = ((error ?? {}) as PgLikeError).code;
  if (code && CONNECT_CODES.has(code)) return `could not connect (${errorText(error)})`;
  return connectionLostText(error) ?? errorText(error);
}
