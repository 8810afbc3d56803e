import { runInChildProcess, taskModule } from '../concurrency/childTask.js';
import type { Logger } from '../logger.js';
import type { RecordedMigration } from './migrate.js';

/**
 * Brings the state database up to date from a short-lived child process: the migration
 * runner and its dependencies are needed once at start-up and would otherwise stay loaded
 * in every bot and worker process for its whole life.
 */
export async function migrateStateDatabaseIsolated(databaseUrl: string, logger: Logger): Promise<string[]> {
  const { applied, log } = await runInChildProcess<RecordedMigration>(
    { module: taskModule('migrate', import.meta.url), exportName: 'migrateRecordingLog' },
    databaseUrl,
  );
  for (const entry of log) logger[entry.level](entry.details, entry.message);
  if (applied.length > 0) logger.info({ applied }, 'state database migrated');
  return applied;
}
