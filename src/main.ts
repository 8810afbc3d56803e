#!/usr/bin/env node
import { loadServiceConfig } from './config.js';
import { startDemoDatabases } from './demo/demoDatabases.js';
import { UserError } from './errors.js';
import { createLogger } from './logger.js';
import { logRunbookLoad, type Mode, startService } from './service.js';

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
        const demo = await startDemoDatabases();
        return { url: demo.stateUrl, demoTarget: demo.demoTarget, stop: demo.stop };
      },
    });
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      service.stop().finally(() => process.exit(0));
    };
    // SIGHUP reads the runbook files again, as `/runbook reload` does.
    process.on('SIGHUP', () => {
      service.runbooks
        ?.reload()
        .then((summary) => logRunbookLoad(logger, summary))
        .catch((err: unknown) => logger.error({ err }, 'runbook reload failed'));
    });
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  } catch (err) {
    if (err instanceof UserError) process.stderr.write(`error: ${err.message}\n`);
    else logger.fatal({ err }, 'runbook-bot failed to start');
    process.exitCode = 1;
  }
}

void main();
