import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { describeUrl } from '../redact.js';
import { describeConnectionFailure } from '../targets/connectionErrors.js';
import { TargetPools } from '../targets/pools.js';
import { privilegeWarning, type RolePrivileges, rolePrivileges } from '../targets/rolePrivileges.js';
import type { CliIo } from './cliIo.js';
import { EXIT } from './exitCodes.js';

/** `runbook-bot targets`: the configured targets and the role checks run as on each. */
export function addTargetsCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('targets')
    .description(
      'List the configured targets (without secrets) and the role checks run as on each; warn when it can do more than read',
    )
    .option('--json', 'print as JSON')
    .option('--offline', 'do not connect: list the configuration only')
    .action(async (options: { json?: boolean; offline?: boolean }) => {
      setExitCode(await listTargets(options, io));
    });
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
