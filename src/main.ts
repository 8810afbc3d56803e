#!/usr/bin/env node
import { loadServiceConfig, startupLogLevel } from './config.js';
import { UserError } from './errors.js';
import { createLogger } from './logger.js';
import { armShutdownWatchdog, DEFAULT_SHUTDOWN_WATCHDOG_MS } from './service/shutdownWatchdog.js';
import { logRunbookLoad, type Mode, type RunningService, startService } from './service.js';

const MODES: Mode[] = ['bot', 'worker', 'all'];

/** `runbook-bot-server bot|worker|all`: the long-running processes. */
async function main(): Promise<void> {
  const mode = (process.argv[2] ?? 'all') as Mode;
  const logger = createLogger({ level: startupLogLevel() });
  if (!MODES.includes(mode)) {
    process.stderr.write(`Unknown mode "${mode}". Use one of: ${MODES.join(', ')}.\n`);
    process.exitCode = 2;
    return;
  }
  // Signals are taken from the start: a SIGTERM while starting (workers may already hold a
  // job) waits for start-up to finish and then stops in order, instead of killing mid-job.
  let service: RunningService | undefined;
  let stopping: string | undefined;
  let watchdogMs = DEFAULT_SHUTDOWN_WATCHDOG_MS;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = signal;
    logger.info({ signal }, 'shutting down');
    // Whatever the stop waits on (a wedged database, a job that never ends, a start-up that
    // does not finish), the process is gone within watchdogMs.
    armShutdownWatchdog({ ms: watchdogMs, logger, inFlight: () => service?.inFlight() });
    if (service) void service.stop().finally(() => process.exit(0));
  };
  // `on`, not `once`: a second Ctrl-C must not kill the process halfway through its stop (the
  // embedded Postgres of `all` mode, in a process group of its own, would be left running);
  // the watchdog bounds the stop instead.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    const config = loadServiceConfig(undefined, { mode });
    watchdogMs = config.shutdownWatchdogMs;
    service = await startService({
      mode,
      config,
      logger,
      // all mode with no DATABASE_URL: an embedded Postgres for state, with a demo target,
      // stopped last by the shutdown above. Imported only then: other modes never need it.
      embedded: async () => {
        const { startDemoDatabases } = await import('./demo/demoDatabases.js');
        const demo = await startDemoDatabases();
        return { url: demo.stateUrl, demoTarget: demo.demoTarget, stop: demo.stop };
      },
    });
    const started = service;
    if (stopping) {
      await started.stop();
      process.exit(0);
    }
    // SIGHUP reads the runbook files again, as `/runbook reload` does.
    process.on('SIGHUP', () => {
      started.runbooks
        ?.reload()
        .then((summary) => logRunbookLoad(logger, summary))
        .catch((err: unknown) => logger.error({ err }, 'runbook reload failed'));
    });
  } catch (err) {
    if (err instanceof UserError) process.stderr.write(`error: ${err.message}\n`);
    else logger.fatal({ err }, 'runbook-bot failed to start');
    process.exit(1);
  }
}

void main();
