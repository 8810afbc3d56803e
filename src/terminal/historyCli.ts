import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { personName } from '../incidents/timelineMarkdown.js';
import { type ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import { type Run, RunStore } from '../store/runs.js';
import type { CliIo } from './cliIo.js';
import { peopleNames } from './people.js';
import { withStateDatabase } from './stateDatabase.js';

/** `runbook-bot history`: health runs and procedure runs from the state database, newest first. */
export function addHistoryCommand(program: Command, io: CliIo): void {
  program
    .command('history')
    .description('List recent health runs and procedure runs recorded in the state database (DATABASE_URL)')
    .option('-n, --limit <count>', 'how many runs', '20')
    .option('--json', 'print as JSON')
    .action(async (options: { limit: string; json?: boolean }) => {
      await history(options, io);
    });
}

async function history(options: { limit: string; json?: boolean }, io: CliIo): Promise<void> {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new UserError(`--limit must be a whole number from 1 to 1000, got "${options.limit}"`);
  }
  const rows = await withStateDatabase(io, { command: 'history', what: 'runs' }, async (db) => {
    const [health, procedures] = await Promise.all([
      new RunStore(db).recent(limit),
      new ProcedureRunStore(db).recent(limit),
    ]);
    // Health runs and procedure runs, interleaved by when they were asked for.
    return [...health.map(healthRow), ...procedures.map(procedureRow)]
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .slice(0, limit);
  });
  if (options.json) {
    io.stdout(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) io.stdout('No runs recorded yet.');
  const names = await peopleNames(io, [...new Set(rows.map((row) => row.requestedBy))]);
  for (const row of rows) {
    io.stdout(
      `${row.createdAt.toISOString()}  ${row.kind.padEnd(9)} ${row.target.padEnd(14)} ${row.status.padEnd(8)} ${outcomeOf(row).padEnd(12)} ${personName(row.requestedBy, names)}  ${row.id}`,
    );
  }
}

/** A health run or a procedure run, as `history` lists them (and prints them with `--json`). */
interface HistoryRow {
  id: string;
  kind: 'health' | 'procedure';
  target: string;
  status: string;
  error: string | null;
  requestedBy: string;
  createdAt: Date;
  /** health: the report's status (ok, warn, critical, unreachable). */
  reportStatus?: string | null;
  procedure?: { id: string; title: string; params: Record<string, string> };
}

/** health: the report's status or the error; procedure: its id, and its error. */
function outcomeOf(row: HistoryRow): string {
  if (row.procedure) return row.error ? `${row.procedure.id}: ${row.error}` : row.procedure.id;
  return row.reportStatus ?? row.error ?? '';
}

function healthRow(run: Run): HistoryRow {
  return {
    id: run.id,
    kind: 'health',
    target: run.target,
    status: run.status,
    error: run.error,
    reportStatus: run.reportStatus,
    requestedBy: run.requestedBy,
    createdAt: run.createdAt,
  };
}

function procedureRow(run: ProcedureRun): HistoryRow {
  return {
    id: run.id,
    kind: 'procedure',
    target: run.target,
    status: run.status,
    error: run.error,
    requestedBy: run.requestedBy,
    createdAt: run.createdAt,
    procedure: { id: run.procedure.id, title: run.procedure.title, params: run.params },
  };
}
