import { Command, CommanderError } from 'commander';
import { suggestionsText } from './answer.js';
import { loadConfig } from './config.js';
import { UserError } from './errors.js';
import { HEALTH_CHECKS } from './health/catalog.js';
import { formatUnitValue } from './health/units.js';
import { createLogger } from './logger.js';
import { describeUrl, redactText } from './redact.js';
import { describeConnectionFailure } from './targets/connectionErrors.js';
import { TargetPools } from './targets/pools.js';
import { privilegeWarning, type RolePrivileges, rolePrivileges } from './targets/rolePrivileges.js';
import { addAuditCommands } from './terminal/auditCli.js';
import { type CliIo, terminalCommand } from './terminal/cliIo.js';
import { EXIT } from './terminal/exitCodes.js';
import { addHealthCommand } from './terminal/healthCli.js';
import { addHistoryCommand } from './terminal/historyCli.js';
import { addIncidentCommands } from './terminal/incidentCli.js';
import { addInitRolesCommand } from './terminal/initRoles.js';
import { addPreviewCommand } from './terminal/previewCli.js';
import { addRunbookCommands } from './terminal/runbookCli.js';

/**
 * The `runbook-bot` command line. Returns the exit code instead of exiting so tests can run
 * it in-process: 0 ok, 1 warn, 2 critical, 3 could not run (bad input, config, unreachable).
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command()
    .name('runbook-bot')
    .description(
      'Postgres runbooks you can execute: health checks and runbook procedures from a terminal or Slack.',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text.trimEnd()),
      writeErr: (text) => io.stderr(text.trimEnd()),
    })
    .showHelpAfterError('(run with --help for usage)');

  const setExitCode = (code: number) => {
    exitCode = code;
  };
  addHealthCommand(program, io, setExitCode);

  program
    .command('targets')
    .description(
      'List the configured targets (without secrets) and the role checks run as on each; warn when it can do more than read',
    )
    .option('--json', 'print as JSON')
    .option('--offline', 'do not connect: list the configuration only')
    .action(async (options: { json?: boolean; offline?: boolean }) => {
      exitCode = await listTargets(options, io);
    });

  program
    .command('checks')
    .description('List the health checks with their thresholds')
    .option('--json', 'print as JSON')
    .action((options: { json?: boolean }) => {
      const rows = HEALTH_CHECKS.map((check) => ({
        id: check.id,
        title: check.title,
        thresholds: Object.fromEntries(
          check.thresholds.map((spec) => [spec.key, formatUnitValue(spec.default, spec.unit)]),
        ),
        needsReadAllStats: check.needsReadAllStats ?? false,
        description: check.description,
      }));
      if (options.json) {
        io.stdout(JSON.stringify(rows, null, 2));
        return;
      }
      for (const row of rows) {
        const thresholds = Object.entries(row.thresholds)
          .map(([key, value]) => `${key}=${value}`)
          .join(' ');
        io.stdout(`${row.id.padEnd(28)} ${thresholds}`);
      }
    });

  addHistoryCommand(program, io);
  addRunbookCommands(program, io, setExitCode);
  addPreviewCommand(program, io, setExitCode);
  addAuditCommands(program, io, setExitCode);
  addIncidentCommands(program, io, setExitCode);
  addInitRolesCommand(program, io);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; a usage mistake "could not run".
      return err.exitCode === 0 ? EXIT.ok : EXIT.couldNotRun;
    }
    if (err instanceof UserError) {
      const suggested = suggestionsText(err.suggestions, terminalCommand);
      io.stderr(`error: ${err.message}${suggested ? ` ${suggested}` : ''}`);
      return EXIT.couldNotRun;
    }
    io.stderr(
      `unexpected error: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}`,
    );
    return EXIT.couldNotRun;
  }
}

interface TargetRow {
  name: string;
  database: string;
  tags: string[];
  source: string;
  description: string;
  role?: RolePrivileges;
  warning?: string;
  unreachable?: string;
  /** Why actions cannot run there, though checks can. */
  actions?: string;
}

async function listTargets(options: { json?: boolean; offline?: boolean }, io: CliIo): Promise<number> {
  const config = loadConfig(io.env);
  const targets = config.targets.list();
  const logger = createLogger({ level: config.logLevel ?? 'warn', destination: process.stderr });
  const pools = new TargetPools(logger);
  try {
    const rows: TargetRow[] = await Promise.all(
      targets.map(async (target) => {
        const row: TargetRow = {
          name: target.name,
          database: describeUrl(target.url),
          tags: target.tags,
          source: target.source,
          description: target.description ?? '',
          ...(target.remediationUnavailable
            ? { actions: `cannot run: ${target.remediationUnavailable}` }
            : {}),
        };
        if (options.offline) return row;
        const checked = await readRole(pools, target);
        return { ...row, ...checked };
      }),
    );
    if (options.json) io.stdout(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) io.stdout('No targets configured. Set TARGET_DATABASE_URL or TARGETS_FILE.');
    else
      for (const row of rows) {
        const role = row.role ? `  checks run as ${row.role.role}` : '';
        io.stdout(`${row.name.padEnd(16)} ${row.database}  ${row.tags.join(',')}  (${row.source})${role}`);
        if (row.warning) io.stdout(`  warning: ${row.warning}`);
        if (row.unreachable) io.stdout(`  unreachable: ${row.unreachable}`);
        if (row.actions) io.stdout(`  actions ${row.actions}; checks still run`);
      }
    return rows.some((row) => row.warning || row.actions) ? EXIT.warn : EXIT.ok;
  } finally {
    await pools.closeAll();
  }
}

/** The role a target's read connection logs in as, and what it may do beyond reading. */
async function readRole(
  pools: TargetPools,
  target: ReturnType<ReturnType<typeof loadConfig>['targets']['resolve']>,
): Promise<{ role?: RolePrivileges; warning?: string; unreachable?: string }> {
  try {
    const client = await pools.readOnly(target).connect();
    try {
      const role = await rolePrivileges(client);
      return { role, warning: privilegeWarning(role) };
    } finally {
      client.release();
    }
  } catch (err) {
    return { unreachable: describeConnectionFailure(err, target.url, target.settings.connectTimeoutMs) };
  }
}
