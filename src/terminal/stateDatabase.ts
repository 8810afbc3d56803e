import pg from 'pg';
import { loadTerminalSettings } from '../config.js';
import { UserError } from '../errors.js';
import { redactText } from '../redact.js';
import { describeConnectionFailure } from '../targets/connectionErrors.js';
import { isPostgresUrl } from '../targets/targetsFile.js';
import type { CliIo } from './cliIo.js';

const CONNECT_TIMEOUT_MS = 5000;

/**
 * Runs `use` against the state database (DATABASE_URL) and closes it after. A database
 * error becomes a sentence saying what is wrong (not migrated yet, unreachable) instead of
 * a stack trace; anything else is left as it is.
 */
export async function withStateDatabase<T>(
  io: CliIo,
  reading: { command: string; what: string },
  use: (db: pg.Pool) => Promise<T>,
): Promise<T> {
  const { command, what } = reading;
  const url = loadTerminalSettings(io.env).stateDatabaseUrl;
  if (!url) throw new UserError(`${command} reads the state database: set DATABASE_URL.`);
  // Refused as the service refuses it: a wrong scheme or port would otherwise read as a
  // connection failure to some host.
  if (!isPostgresUrl(url))
    throw new UserError(
      'DATABASE_URL must be a postgres:// or postgresql:// URL (postgres://user:password@host:5432/database).',
    );
  const pool = new pg.Pool({
    connectionString: url,
    max: 2,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  pool.on('error', () => undefined); // an idle client's error surfaces on the next query
  try {
    // Reached first, so that any failure to connect (pg's own timeout and reset errors
    // carry no code) reads as one, naming the host to check.
    await pool
      .connect()
      .then((client) => client.release())
      .catch((err: unknown) => {
        throw new UserError(
          `Cannot reach the state database (DATABASE_URL): ${describeConnectionFailure(err, url, CONNECT_TIMEOUT_MS)}.`,
        );
      });
    return await use(pool);
  } catch (err) {
    const failure = err as { code?: string; message?: string };
    if (err instanceof UserError || typeof failure.code !== 'string') throw err;
    if (failure.code === '42P01')
      throw new UserError(
        `The state database has no ${what} yet: start the bot (or a worker) once to migrate it.`,
      );
    throw new UserError(`Cannot read the state database: ${redactText(failure.message ?? String(err))}`);
  } finally {
    await pool.end();
  }
}
