import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type ConsoleDemo, startConsoleDemo } from '../../src/demo/consoleDemo.js';
import { startDemoDatabases } from '../../src/demo/demoDatabases.js';
import { createLogger } from '../../src/logger.js';
import type { EmbeddedServer } from '../../src/store/embeddedPostgres.js';
import { withDatabase } from './databases.js';

/**
 * The demo exactly as `npm run demo` starts it (console, bot in all mode, faulty shop
 * database), on the test Postgres server with databases of its own, dropped by `stop()`.
 */
export async function startTestConsoleDemo(
  serverUrl: string,
  options: { socketMode?: boolean } = {},
): Promise<ConsoleDemo & { shopUrl: string }> {
  const prefix = `console_${randomBytes(4).toString('hex')}_`;
  const server: EmbeddedServer = {
    url: (database = 'postgres') => withDatabase(serverUrl, database),
    port: Number(new URL(serverUrl).port),
    stop: async () => undefined,
  };
  const demo = await startConsoleDemo({
    consolePort: 0,
    logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    databases: () => startDemoDatabases({ server, prefix }),
    socketMode: options.socketMode,
  });
  return {
    ...demo,
    shopUrl: server.url(`${prefix}shop`),
    stop: async () => {
      await demo.stop();
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      try {
        for (const name of ['runbook_bot', 'shop'])
          await admin.query(`DROP DATABASE IF EXISTS ${prefix}${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

export { consolePost, consoleState } from '../../src/console/consoleClient.js';
