import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  options: { socketMode?: boolean; fleet?: boolean } = {},
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
    ...(options.fleet ? { botEnv: fleetEnv(prefix, server.url(`${prefix}shop`)) } : {}),
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

/**
 * Two targets for `/runbook health all`: the demo's shop database (named `demo`, with the
 * production thresholds) and `gone`, which nothing answers (always a problem).
 */
function fleetEnv(prefix: string, shopUrl: string): NodeJS.ProcessEnv {
  const path = join(tmpdir(), `${prefix}targets.yml`);
  writeFileSync(
    path,
    [
      'targets:',
      '  demo:',
      '    url_env: DEMO_SHOP_URL',
      '    tags: [demo]',
      '  gone:',
      '    url_env: GONE_URL',
      '    tags: [retired]',
      '    connect_timeout_ms: 1000',
      '',
    ].join('\n'),
  );
  return { TARGETS_FILE: path, DEMO_SHOP_URL: shopUrl, GONE_URL: 'postgres://app@127.0.0.1:1/app' };
}

export { consolePost, consoleState } from '../../src/console/consoleClient.js';
