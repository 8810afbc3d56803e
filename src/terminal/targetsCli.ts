import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { describeUrl } from '../redact.js';
import { describeConnectionFailure } from '../targets/connectionErrors.js';
import { TargetPools } from '../targets/pools.js';
import { privilegeWarning, type RolePrivileges, rolePrivileges } from '../targets/rolePrivileges.js';
import { namesText, plural } from '../text.js';
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

export interface TargetRow {
  name: string;
  /** The target used when a command names none. */
  default?: true;
  database: string;
  tags: string[];
  source: string;
  sourceFile?: string;
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
  const defaultName = config.targets.defaultTarget();
  const logger = createLogger({ level: config.logLevel ?? 'warn', destination: process.stderr });
  const pools = new TargetPools(logger);
  try {
    const rows: TargetRow[] = await Promise.all(
      targets.map(async (target) => {
        const row: TargetRow = {
          name: target.name,
          ...(target.name === defaultName ? { default: true } : {}),
          database: describeUrl(target.url),
          tags: target.tags,
          source: target.source,
          ...(target.sourceFile ? { sourceFile: target.sourceFile } : {}),
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
    else for (const line of targetsText(rows, config.targets.defaultTarget())) io.stdout(line);
    if (rows.some((row) => row.unreachable)) return EXIT.unreachable;
    return rows.some((row) => row.warning || row.actions) ? EXIT.warn : EXIT.ok;
  } finally {
    await pools.closeAll();
  }
}

/**
 * One aligned row per target, the default marked, each target's own problems under it, and a
 * warning shared by several targets (a fleet read by one superuser) said once with their names.
 */
export function targetsText(rows: readonly TargetRow[], defaultName: string | undefined): string[] {
  // One file for all: said once above the table rather than on every row.
  const file = rows[0]?.sourceFile;
  const oneFile = file !== undefined && rows.every((row) => row.sourceFile === file);
  // --offline reads no roles: no empty column for them.
  const withRoles = rows.some((row) => row.role);
  const columns = rows.map((row) => [
    `${row.default ? '*' : ' '} ${row.name}`,
    row.database,
    row.tags.join(',') || '—',
    ...(oneFile ? [] : [row.source]),
    ...(withRoles ? [row.role?.role ?? ''] : []),
  ]);
  const header = [
    '  target',
    'database',
    'tags',
    ...(oneFile ? [] : ['source']),
    ...(withRoles ? ['checks run as'] : []),
  ];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...columns.map((cells) => cells[i]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [...(oneFile ? [`${plural(rows.length, 'target')} from ${file}`, ''] : []), line(header)];
  rows.forEach((row, index) => {
    out.push(line(columns[index]!));
    if (row.unreachable) out.push(`    unreachable: ${row.unreachable}`);
    if (row.actions) out.push(`    actions ${row.actions}; checks still run`);
  });
  const byWarning = new Map<string, string[]>();
  for (const row of rows)
    if (row.warning) byWarning.set(row.warning, [...(byWarning.get(row.warning) ?? []), row.name]);
  if (defaultName !== undefined)
    out.push('', `* default target: ${defaultName} (used when a command names none)`);
  for (const [warning, names] of byWarning) {
    const which =
      names.length === rows.length && rows.length > 1 ? `all ${rows.length} targets` : namesText(names);
    out.push(`warning (${which}): ${warning}`);
  }
  return out;
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
