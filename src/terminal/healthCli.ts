import { type Command, Option } from 'commander';
import { type AppConfig, loadConfig } from '../config.js';
import { UserError } from '../errors.js';
import { HEALTH_CHECKS } from '../health/catalog.js';
import { runHealthCheck } from '../health/engine.js';
import {
  asFleetMember,
  type FleetSelector,
  fleetLabel,
  fleetPaceText,
  fleetSelectorFromWord,
  fleetStatus,
  runFleet,
  selectFleet,
} from '../health/fleet.js';
import { thresholdsForTarget, unknownTargetRunbooks } from '../health/runbookThresholds.js';
import {
  assertThresholdOrder,
  parseThresholdOverrides,
  type RunbookThresholdLayer,
  splitAssignments,
  type ThresholdOverrides,
  targetThresholdLayers,
} from '../health/thresholds.js';
import type { HealthReport } from '../health/types.js';
import { createLogger, type Logger } from '../logger.js';
import { ConnectionBudget, reportingWaits } from '../targets/connectionBudget.js';
import { TargetPools } from '../targets/pools.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';
import type { CliIo } from './cliIo.js';
import { exitCodeFor } from './exitCodes.js';
import { renderFleetTable } from './fleetTable.js';
import { renderHealthReport } from './healthTable.js';

const collect = (value: string, previous: string[]) => [...previous, value];

interface HealthOptions {
  target?: string;
  all?: boolean;
  tag?: string;
  json?: boolean;
  only?: string;
  threshold: string[];
  budget?: number;
}

/** `runbook-bot health`: one target, or a fleet (`--all`, `--tag`) checked a few at a time. */
export function addHealthCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('health')
    .description(
      'Run the health checks against a target database, or every target (--all) or those with a tag (--tag)',
    )
    .option(
      '-t, --target <name>',
      'target to check (default: the configured default); `all` or `tag:<tag>` for a fleet',
    )
    .option(
      '--all',
      'check every configured target, a few at a time (FLEET_CONCURRENCY), and print a summary',
    )
    .option('--tag <tag>', 'check every target with this tag, as --all does')
    .option(
      '--json',
      'print the report as JSON (with --all or --tag: one JSON document per target, a line each)',
    )
    .option('--only <ids>', 'comma-separated check ids to run (see `runbook-bot checks`)')
    .option(
      '--threshold <check.key=value>',
      'override a threshold, e.g. connections.warn=100 (repeatable)',
      collect,
      [],
    )
    .addOption(
      new Option('--budget <seconds>', "time budget of each target's run").argParser(
        positiveNumber('--budget'),
      ),
    )
    .action(async (options: HealthOptions) => {
      setExitCode(await health(options, io));
    });
}

/** What every target's run shares: the command line's checks, thresholds and budget. */
interface RunSettings {
  only?: string[];
  overrides: ThresholdOverrides;
  budgetMs: number;
  evidenceLimit: number;
  logger: Logger;
  runbookThresholds: (target: Target) => RunbookThresholdLayer | undefined;
  /** TARGET_CONNECTION_BUDGET, shared by every target's pools in this process. */
  budget: ConnectionBudget;
}

async function health(options: HealthOptions, io: CliIo): Promise<number> {
  const config = loadConfig(io.env);
  const fleet = fleetOf(options, config);
  const targets = fleet
    ? selectFleet(config.targets, fleet).map(asFleetMember)
    : [config.targets.resolve(options.target)];
  const settings: RunSettings = {
    overrides: parseThresholdOverrides(splitAssignments(options.threshold), HEALTH_CHECKS, '--threshold'),
    only: options.only
      ?.split(',')
      .map((id) => id.trim())
      .filter(Boolean),
    budgetMs: options.budget !== undefined ? options.budget * 1000 : config.health.budgetMs,
    evidenceLimit: config.health.evidenceLimit,
    // Logs go to stderr so `--json` output on stdout stays parseable.
    logger: createLogger({ level: config.logLevel ?? 'warn', destination: process.stderr }),
    runbookThresholds: await thresholdsFromRunbooks(targets, config.runbooksDir),
    budget: new ConnectionBudget(config.connectionBudget),
  };
  // A warn at or past its critical could never fire: refused, naming both and where each came from.
  for (const target of targets)
    assertThresholdOrder(
      HEALTH_CHECKS,
      targetThresholdLayers(target, HEALTH_CHECKS, settings.runbookThresholds(target), settings.overrides),
    );
  if (!fleet) {
    const report = await checkTarget(targets[0] as Target, settings);
    io.stdout(
      options.json ? JSON.stringify(report, null, 2) : renderHealthReport(report, { color: io.color }),
    );
    return exitCodeFor(report.status);
  }
  const started = performance.now();
  const concurrency = config.fleetConcurrency;
  const pace = fleetPaceText(concurrency, settings.budget.size, targets.length);
  let finished = 0;
  // Targets waiting for a connection slot now: said on the progress line, so a fleet held up
  // by TARGET_CONNECTION_BUDGET does not look like a hang.
  const waiting = new Set<string>();
  const progress = () =>
    io.progress?.(
      `${fleetLabel(fleet)}: ${finished}/${plural(targets.length, 'target')} checked (${pace})` +
        (waiting.size > 0
          ? `, ${waiting.size} waiting for a connection slot` +
            (settings.budget.size < concurrency ? '' : ` (TARGET_CONNECTION_BUDGET=${settings.budget.size})`)
          : ''),
    );
  progress();
  const reports = await runFleet(
    targets,
    concurrency,
    (target) =>
      reportingWaits(
        ({ position }) => {
          if (position > 0) waiting.add(target.name);
          else waiting.delete(target.name);
          progress();
        },
        () => checkTarget(target, settings),
      ),
    (report, done) => {
      // One document per line, as each target finishes: `jq` and log shippers read them as they come.
      if (options.json) io.stdout(JSON.stringify(report));
      finished = done;
      progress();
    },
  );
  io.progress?.('');
  if (!options.json)
    io.stdout(
      renderFleetTable(
        {
          label: fleetLabel(fleet),
          reports,
          durationMs: Math.round(performance.now() - started),
          pace,
        },
        { color: io.color },
      ),
    );
  return exitCodeFor(fleetStatus(reports.map((report) => report.status)));
}

function fleetOf(options: HealthOptions, config: AppConfig): FleetSelector | undefined {
  const given = [options.target !== undefined, options.all === true, options.tag !== undefined].filter(
    Boolean,
  );
  if (given.length > 1) throw new UserError('Give one of --target, --all and --tag, not several.');
  if (options.all) return { kind: 'all' };
  if (options.tag !== undefined) return fleetSelectorFromWord(`tag:${options.tag}`, config.targets);
  return options.target !== undefined ? fleetSelectorFromWord(options.target, config.targets) : undefined;
}

/**
 * One target's run on pools of its own, closed before the next target starts in its lane:
 * with a fleet's targets on one connection each (asFleetMember), that is what keeps a fleet
 * run within FLEET_CONCURRENCY connections, and the shared budget within TARGET_CONNECTION_BUDGET.
 */
async function checkTarget(target: Target, settings: RunSettings): Promise<HealthReport> {
  const pools = new TargetPools(settings.logger, { budget: settings.budget });
  try {
    return await runHealthCheck(target, pools.readOnly(target), {
      only: settings.only,
      thresholdOverrides: settings.overrides,
      runbookThresholds: settings.runbookThresholds(target),
      budgetMs: settings.budgetMs,
      evidenceLimit: settings.evidenceLimit,
      logger: settings.logger,
    });
  } finally {
    await pools.closeAll();
  }
}

/** The targets' thresholds from the runbooks they name; the library is read only when one names some. */
async function thresholdsFromRunbooks(
  targets: Target[],
  runbooksDir: string | undefined,
): Promise<RunSettings['runbookThresholds']> {
  if (!targets.some((target) => target.runbooks?.length)) return () => undefined;
  // Imported here: most health runs name no runbook and never pay for the library's modules.
  const { RunbookLibrary, runbookSources } = await import('../runbooks/runbookLibrary.js');
  const { library } = await RunbookLibrary.load(runbookSources(runbooksDir));
  const unknown = unknownTargetRunbooks(
    targets,
    library.list().map((runbook) => runbook.id),
  );
  if (unknown.length > 0) {
    throw new UserError(`Targets name runbooks that are not loaded:\n${unknown.join('\n')}`);
  }
  return (target) => (target.runbooks?.length ? thresholdsForTarget(target, library) : undefined);
}

function positiveNumber(flag: string) {
  return (value: string) => {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0)
      throw new UserError(`${flag} must be a positive number, got "${value}"`);
    return number;
  };
}
