import type { ReportStatus } from '../health/types.js';

/** Exit codes of `runbook-bot health`, for cron jobs and CI gates. */
export const EXIT = { ok: 0, warn: 1, critical: 2, couldNotRun: 3 } as const;

export function exitCodeFor(status: ReportStatus): number {
  if (status === 'unreachable') return EXIT.couldNotRun;
  return EXIT[status];
}
