import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../logger.js';

/** `migrations/` at the package root, from src/ (tsx) and dist/ (built) alike. */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/**
 * Brings the state database up to date. node-pg-migrate takes an advisory lock (and waits
 * for it), so bot and worker replicas starting together run each migration once.
 */
export async function migrateStateDatabase(databaseUrl: string, logger?: Logger): Promise<string[]> {
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

async function migrateOnce(databaseUrl: string, logger?: Logger): Promise<string[]> {
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
