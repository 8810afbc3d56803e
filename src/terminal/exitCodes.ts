import type { ReportStatus } from '../health/types.js';

/**
 * Exit codes of `runbook-bot`, for cron jobs and CI gates. `couldNotRun` (3) is the command's
 * own fault: bad input, configuration, an unexpected error. `unreachable` (4) is a database
 * that could not be reached, so a script can tell "my command was wrong" from "a database is
 * down"; being the highest outcome code, a fleet's worst target still gives its exit code.
 */
export const EXIT = { ok: 0, warn: 1, critical: 2, couldNotRun: 3, unreachable: 4 } as const;

export function exitCodeFor(status: ReportStatus): number {
  return EXIT[status];
}
