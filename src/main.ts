#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { loadServiceConfig, startupLogLevel } from './config.js';
import { UserError } from './errors.js';
import { createLogger } from './logger.js';
import { armShutdownWatchdog, DEFAULT_SHUTDOWN_WATCHDOG_MS } from './service/shutdownWatchdog.js';
import { logRunbookLoad, type Mode, type RunningService, startService } from './service.js';

const MODES: Mode[] = ['bot', 'worker', 'all'];

/**
 * How far V8 lets its old generation grow past what was live at the last full collection
 * before collecting again: 25 % here, where V8 picks 10–300 % by itself, the more the slower
 * its collector looks (as on a busy machine). A long-running bot or worker turns most of what a
 * command allocates into garbage that outlives a young collection (requests wait on the
 * database), so with V8's own choice the heap, and RSS, grew by tens of MB over 10 000
 * commands (worker 134 → 192 MB) while what was live stayed at ~31 MB (heap snapshots).
 * A full collection of that heap is cheap and rare (every ~10 MB promoted). A growth rate,
 * not a limit: the heap still grows to whatever the live set needs, so nothing can run out.
 * Read by V8 at each collection, so setting it now takes effect; a `--heap-growing-percent`
 * on node's command line wins (NODE_OPTIONS does not take V8 flags of this kind).
 */
const HEAP_GROWING_PERCENT = 25;
if (!process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent')))
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

/** `runbook-bot-server bot|worker|all`: the long-running processes. */
async function main(): Promise<void> {
  const mode = (process.argv[2] ?? 'all') as Mode;
  // JSON lines on stdout (pino's default): a service's stdout carries nothing else, and it is
  // where container runtimes, systemd and log shippers read an event stream from. The chaos
  // suite and the crash tests read these lines there. (The CLI and the demo log to stderr:
  // their stdout is their output.) docs/operations.md says the same.
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
