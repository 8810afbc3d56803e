import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

/** The two levels migrations log at; a pino logger is one, and so is a recorder in a child process. */
export interface MigrationLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
}

/** `migrations/` at the package root, from src/ (tsx) and dist/ (built) alike. */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/**
 * Brings the state database up to date. node-pg-migrate takes an advisory lock (and waits
 * for it), so bot and worker replicas starting together run each migration once.
 */
export async function migrateStateDatabase(databaseUrl: string, logger?: MigrationLogger): Promise<string[]> {
  // Replicas booting together on a fresh database race to create the migrations table
  // before the advisory lock exists to serialize them; the loser retries and finds it done.
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(databaseUrl, logger);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 3 || (code !== '23505' && code !== '42P07')) throw err;
      logger?.info({ attempt }, 'another process created the migrations table; retrying');
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    }
  }
}

async function migrateOnce(databaseUrl: string, logger?: MigrationLogger): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'runbook_bot_migrations',
    checkOrder: true,
    // A replica that finds another one migrating waits for it instead of failing to start.
    advisoryLockMode: 'wait',
    log: (message: string) => logger?.debug({ migration: message }, 'migration'),
    verbose: false,
  });
  return applied.map((migration) => migration.name);
}

export interface RecordedMigration {
  applied: string[];
  /** What would have been logged, in order, for the calling process to log. */
  log: Array<{ level: 'debug' | 'info'; details: object; message: string }>;
}

/** migrateStateDatabase for runInChildProcess: a child cannot use its parent's logger. */
export async function migrateRecordingLog(databaseUrl: string): Promise<RecordedMigration> {
  const log: RecordedMigration['log'] = [];
  const applied = await migrateStateDatabase(databaseUrl, {
    debug: (details, message) => log.push({ level: 'debug', details, message }),
    info: (details, message) => log.push({ level: 'info', details, message }),
  });
  return { applied, log };
}
