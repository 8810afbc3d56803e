import type { Command } from 'commander';
import { AuditLog } from '../audit/auditLog.js';
import { UserError } from '../errors.js';
import type { CliIo } from './cliIo.js';
import { EXIT } from './exitCodes.js';
import { withStateDatabase } from './stateDatabase.js';

/**
 * `audit verify` and `audit export`: the audit log of the state database (DATABASE_URL).
 * verify exits 2 on a broken chain, like a critical health report, so a cron job can page.
 */
export function addAuditCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const audit = program
    .command('audit')
    .description('Check or export the audit log kept in the state database (DATABASE_URL)');

  audit
    .command('verify')
    .description('Walk the hash chain and report the first broken link (exit 2) or that it is intact')
    .action(async () => {
      const result = await withAuditLog(io, (log) => log.verify());
      if (result.ok) {
        io.stdout(`audit chain intact: ${result.events} events`);
        setExitCode(EXIT.ok);
      } else {
        io.stdout(`audit chain broken at seq ${result.brokenAt}: ${result.reason}`);
        setExitCode(EXIT.critical);
      }
    });

  audit
    .command('export')
    .description('Print audit events as JSON lines, oldest first, with their hashes')
    .requiredOption(
      '--since <when>',
      'an ISO date (2024-11-27, 2024-11-27T10:00Z) or a duration ago (90m, 24h, 7d)',
    )
    .action(async (options: { since: string }) => {
      const since = parseSince(options.since, new Date());
      await withAuditLog(io, (log) => log.exportSince(since, io.stdout));
      setExitCode(EXIT.ok);
    });
}

const DURATION = /^(\d+)\s*(s|m|h|d|w)$/i;
const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;

/** `--since`: a duration before `now`, or an ISO date (a date alone is midnight UTC). */
export function parseSince(value: string, now: Date): Date {
  const trimmed = value.trim();
  const duration = DURATION.exec(trimmed);
  const date = duration
    ? new Date(now.getTime() - Number(duration[1]) * UNIT_MS[duration[2]!.toLowerCase()]!)
    : ISO_DATE.test(trimmed)
      ? new Date(trimmed)
      : undefined;
  if (!date || Number.isNaN(date.getTime()))
    throw new UserError(
      `--since must be an ISO date (2024-11-27 or 2024-11-27T10:00Z) or a duration like 24h or 7d, got "${value}"`,
    );
  return date;
}

function withAuditLog<T>(io: CliIo, use: (log: AuditLog) => Promise<T>): Promise<T> {
  return withStateDatabase(io, { command: 'audit', what: 'audit log' }, (db) => use(new AuditLog(db)));
}
