#!/usr/bin/env node
import pg from 'pg';
import { loadServiceConfig } from './config.js';
import { demoTarget } from './demo/demoTarget.js';
import { induceFaults } from './demo/faults.js';
import { DEMO_SCHEMA } from './demo/schema.js';
import { UserError } from './errors.js';
import { createLogger } from './logger.js';
import { type Mode, startService } from './service.js';
import { startEmbeddedPostgres } from './store/embeddedPostgres.js';

const MODES: Mode[] = ['bot', 'worker', 'all'];

/** `runbook-bot-server bot|worker|all`: the long-running processes. */
async function main(): Promise<void> {
  const mode = (process.argv[2] ?? 'all') as Mode;
  const logger = createLogger();
  if (!MODES.includes(mode)) {
    process.stderr.write(`Unknown mode "${mode}". Use one of: ${MODES.join(', ')}.\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const config = loadServiceConfig(process.env, { mode });
    const service = await startService({
      mode,
      config,
      logger,
      // all mode with no DATABASE_URL: an embedded Postgres for state, with a demo target.
      embedded: async () => {
        const server = await startEmbeddedPostgres();
        const admin = new pg.Client({ connectionString: server.url() });
        await admin.connect();
        await admin.query('CREATE DATABASE shop');
        await admin.end();
        const setup = new pg.Client({ connectionString: server.url('shop') });
        await setup.connect();
        await setup.query(DEMO_SCHEMA);
        await setup.end();
        await induceFaults(server.url('shop'));
        return { server, demoTarget: demoTarget(server.url('shop')) };
      },
    });
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      service.stop().finally(() => process.exit(0));
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  } catch (err) {
    if (err instanceof UserError) process.stderr.write(`error: ${err.message}\n`);
    else logger.fatal({ err }, 'runbook-bot failed to start');
    process.exitCode = 1;
  }
}

void main();
