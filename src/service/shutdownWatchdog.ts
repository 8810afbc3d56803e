import type { Logger } from '../logger.js';

/**
 * How long a graceful stop may take before the process gives up on it. Under 30 s (what an
 * orchestrator's stop usually waits before SIGKILL, and what docs/operations.md promises) with room
 * to log and exit; longer than the stop's own budgets for a queue that does not answer and
 * for the jobs in hand (see queueBackend's closeWorkers), so it only fires on a stop that is
 * stuck, not one that is slow.
 */
export const DEFAULT_SHUTDOWN_WATCHDOG_MS = 27_000;

/** What a stop that gave up leaves behind, for the log. */
export interface InFlight {
  jobsInHand: unknown[];
  openRequests: unknown[];
}

/**
 * Arms a timer when stopping begins: if the graceful stop has not ended the process by then,
 * it logs what was still in flight and exits non-zero. Whatever it abandoned is safe to
 * abandon: a job not recorded as finished is run again by another worker once its lock lapses
 * (every job is idempotent; an execution is never re-run, it becomes "outcome unknown"), and
 * Slack retries or the person re-sends a request that got no answer.
 */
export function armShutdownWatchdog(options: {
  ms: number;
  logger: Logger;
  inFlight: () => InFlight | undefined;
  exit?: (code: number) => void;
}): { disarm(): void } {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  // Not unref'd: it must fire even when what the stop waits on keeps nothing else alive.
  const timer = setTimeout(() => {
    let abandoned: InFlight | { startUp: string };
    try {
      abandoned = options.inFlight() ?? { startUp: 'start-up had not finished' };
    } catch (err) {
      abandoned = { startUp: `could not list what was in flight: ${String(err)}` };
    }
    options.logger.error(
      { abandoned, watchdogMs: options.ms },
      `graceful stop did not finish within ${options.ms / 1000} s; exiting and abandoning what was in flight`,
    );
    options.logger.flush?.();
    exit(1);
  }, options.ms);
  return { disarm: () => clearTimeout(timer) };
}
