import type { Command } from 'commander';
import { AuditLog } from '../audit/auditLog.js';
import { formatCheckpoint, makeCheckpoint, parseCheckpoint } from '../audit/checkpoint.js';
import type { StoredAuditEvent } from '../audit/events.js';
import { loadAuditSettings } from '../config.js';
import { UserError } from '../errors.js';
import { plural } from '../text.js';
import { auditEventJson, auditEventTerminal } from './auditText.js';
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
    .description(
      'Walk the hash chain and report the first broken link (exit 2) or that it is intact; with AUDIT_HMAC_KEY set, keyed rows are checked with it (exit 3 when they need it and it is not set)',
    )
    .option(
      '--checkpoint <line>',
      'a checkpoint the bot posted ("audit-checkpoint v1 count=… head=… …"): catches rows removed from the end and a re-hashed chain',
    )
    .option(
      '--unkeyed-until <seq>',
      'with AUDIT_HMAC_KEY: rows up to this seq were written before the key was set and may be unkeyed',
    )
    .action(async (options: { checkpoint?: string; unkeyedUntil?: string }) => {
      const checkpoint = options.checkpoint === undefined ? undefined : parseCheckpoint(options.checkpoint);
      const unkeyedUntil = parseSeq(options.unkeyedUntil);
      const result = await withAuditLog(io, (log) =>
        log.verify({
          ...(checkpoint ? { checkpoint } : {}),
          ...(unkeyedUntil !== undefined ? { unkeyedUntil } : {}),
        }),
      );
      if (result.ok) {
        const anchored = checkpoint
          ? `, matching the checkpoint of ${checkpoint.at} (${plural(checkpoint.count, 'event')})`
          : '';
        io.stdout(`audit chain intact: ${plural(result.events, 'event')}${anchored}`);
        setExitCode(EXIT.ok);
      } else if (result.needsKey) {
        io.stdout(`audit chain not verified: ${result.reason}`);
        setExitCode(EXIT.couldNotRun);
      } else if (result.forgedCheckpoint) {
        // Not a statement about the chain, which was not read: about what was pasted.
        io.stdout(`checkpoint refused, audit chain not checked against it: ${result.reason}`);
        setExitCode(EXIT.critical);
      } else {
        io.stdout(`audit chain broken at seq ${result.brokenAt}: ${result.reason}`);
        setExitCode(EXIT.critical);
      }
    });

  audit
    .command('checkpoint')
    .description(
      'Print a checkpoint of the chain head (signed with AUDIT_HMAC_KEY when set), as the bot posts to AUDIT_CHANNEL',
    )
    .action(async () => {
      const { hmacKey } = loadAuditSettings(io.env);
      const head = await withAuditLog(io, (log) => log.head());
      io.stdout(formatCheckpoint(makeCheckpoint({ ...head, at: new Date().toISOString() }, hmacKey)));
      setExitCode(EXIT.ok);
    });

  audit
    .command('export')
    .description(
      'Print audit events oldest first: as JSON lines with their hashes, or (--format text) one readable line each',
    )
    .option('--format <format>', 'json (checkable without the database) or text', 'json')
    .requiredOption(
      '--since <when>',
      'an ISO date (2024-11-27, 2024-11-27T10:00Z) or a duration ago (90m, 24h, 7d)',
    )
    .action(async (options: { since: string; format: string }) => {
      const since = parseSince(options.since, new Date());
      if (options.format !== 'json' && options.format !== 'text')
        throw new UserError(`--format must be json or text, got "${options.format}"`);
      const line =
        options.format === 'json'
          ? auditEventJson
          : ({ event }: StoredAuditEvent) => auditEventTerminal(event);
      await withAuditLog(io, (log) => log.readSince(since, (stored) => io.stdout(line(stored))));
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

function parseSeq(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()))
    throw new UserError(`--unkeyed-until must be an event seq (a whole number), got "${value}"`);
  return Number(value.trim());
}

/** The audit log with AUDIT_HMAC_KEY from the environment, as the bot keys it. */
function withAuditLog<T>(io: CliIo, use: (log: AuditLog) => Promise<T>): Promise<T> {
  const { hmacKey } = loadAuditSettings(io.env);
  return withStateDatabase(io, { command: 'audit', what: 'audit log' }, (db) =>
    use(new AuditLog(db, hmacKey ? { hmacKey } : {})),
  );
}
