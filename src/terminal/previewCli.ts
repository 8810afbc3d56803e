import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { TargetUnreachableError, UserError } from '../errors.js';
import { createLogger } from '../logger.js';
import { rowLimitText } from '../remediation/limits.js';
import type { Plan } from '../remediation/plan.js';
import { planStep } from '../remediation/planStep.js';
import { planTable } from '../remediation/planTable.js';
import { type ActionStep, type Procedure, statementParameters } from '../runbooks/model.js';
import { parseAssignments, unknownParameters } from '../runbooks/procedureParams.js';
import { describeConnectionFailure, failureText, isConnectionFailure } from '../targets/connectionErrors.js';
import { TargetPools } from '../targets/pools.js';
import type { Target } from '../targets/target.js';
import type { CliIo } from './cliIo.js';
import { EXIT } from './exitCodes.js';
import { loadLibrary } from './runbookCli.js';
import { type Colors, colors } from './runbookText.js';

/**
 * `runbook-bot preview <procedure> <step> [name=value…]`: the plan Slack's Preview button
 * shows, made by the same use case, printed and never executed. Requesting approval and
 * executing stay in Slack, where the approvers are (docs/approvals.md).
 */
export function addPreviewCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('preview')
    .description(
      "Show an action step's plan on a target (what it would change, computed in a transaction that is rolled back); never executes it",
    )
    .argument('<procedure>', 'procedure id, e.g. postgres-health#cancel-long-running-query')
    .argument('<step>', 'the step number `runbook-bot show` prints')
    .argument('[params...]', 'parameters as name=value')
    .option('-t, --target <name>', 'target (default: the configured default)')
    .option('--json', 'print the plan as JSON')
    .action(async (reference: string, stepWord: string, words: string[], options: PreviewOptions) => {
      setExitCode(await preview(io, reference, stepWord, words, options));
    });
}

interface PreviewOptions {
  target?: string;
  json?: boolean;
}

async function preview(
  io: CliIo,
  reference: string,
  stepWord: string,
  words: string[],
  options: PreviewOptions,
): Promise<number> {
  const c = colors(io.color);
  const config = loadConfig(io.env);
  const { procedure } = (await loadLibrary(io)).resolveProcedure(reference);
  const { step, position } = actionStep(procedure, stepWord);
  const target = config.targets.resolve(options.target);
  const { values, rest } = parseAssignments(words);
  if (rest.length > 0)
    throw new UserError(`parameters are name=value; "${rest[0]}" is not (use --target for the target)`);
  const unknown = unknownParameters(statementParameters(step.statement), values, `step ${position}`);
  if (unknown.length > 0) throw new UserError(`cannot preview ${procedure.id}:\n  ${unknown.join('\n  ')}`);

  const logger = createLogger({ level: config.logLevel ?? 'warn', destination: process.stderr });
  const pools = new TargetPools(logger);
  try {
    const planned = await planStep(pools.remediation(target), target, step, values, {
      steps: procedure.steps,
      position: position - 1,
    }).catch((err: unknown) => {
      if (err instanceof UserError) throw err;
      if (isConnectionFailure(err))
        throw new TargetUnreachableError(
          `cannot reach ${target.name}: ${describeConnectionFailure(err, target.remediationUrl ?? target.url, target.settings.connectTimeoutMs)}`,
        );
      throw new UserError(`cannot make the plan on ${target.name}: ${failureText(err)}`);
    });
    if (!planned.ok)
      throw new UserError(
        `cannot preview ${procedure.id} step ${position}:\n  ${planned.problems.join('\n  ')}`,
      );
    const { plan } = planned;
    if (options.json)
      io.stdout(
        JSON.stringify(
          {
            procedure: procedure.id,
            step: { number: position, id: step.id, title: step.title, risk: step.risk },
            target: target.name,
            executed: false,
            plan,
          },
          null,
          2,
        ),
      );
    else io.stdout(planLines(procedure, step, position, target, plan, c).join('\n'));
    // A plan that cannot be approved (nothing to do, over a limit) is worth a non-zero exit.
    return plan.blocked ? EXIT.warn : EXIT.ok;
  } finally {
    await pools.closeAll();
  }
}

/** The action step at `word` (a number as `show` prints it), or why that step cannot be previewed. */
function actionStep(procedure: Procedure, word: string): { step: ActionStep; position: number } {
  const actions = procedure.steps.flatMap((step, i) => (step.kind === 'action' ? [i + 1] : []));
  const which =
    actions.length > 0
      ? `its actions are step${actions.length === 1 ? '' : 's'} ${actions.join(', ')} (\`runbook-bot show ${procedure.id}\`)`
      : 'it has no actions';
  const position = Number(word);
  const step = Number.isInteger(position) ? procedure.steps[position - 1] : undefined;
  if (!step)
    throw new UserError(
      `"${word}" is not a step of ${procedure.id}: give its number, 1 to ${procedure.steps.length}; ${which}.`,
    );
  if (step.kind === 'check')
    throw new UserError(
      `step ${position} of ${procedure.id} is a check, which has no plan: \`runbook-bot run ${procedure.id}\` runs it; ${which}.`,
    );
  if (step.kind === 'manual')
    throw new UserError(`step ${position} of ${procedure.id} is a manual step, done by people; ${which}.`);
  return { step, position };
}

function planLines(
  procedure: Procedure,
  step: ActionStep,
  position: number,
  target: Target,
  plan: Plan,
  c: Colors,
): string[] {
  const risk = plan.riskRaised ? 'high' : step.risk;
  const lines = [
    `${c.bold(`Step ${position}: ${step.title}`)} (${procedure.id}) on ${target.name} · risk ${risk} · plan ${plan.hash.slice(0, 12)}`,
    ...plan.sql.split('\n').map((line) => `    ${line}`),
    ...plan.params.map(
      (value, i) => `    $${i + 1} = ${String(value)} (${step.statement.params[i]?.name ?? '?'})`,
    ),
    `${c.bold('Plan:')} ${[plan.summary, ...(plan.rowLimit ? [rowLimitText(plan.rowLimit)] : [])].join(' · ')}`,
  ];
  if (plan.riskRaised) lines.push(c.red(`Risk raised to high: ${plan.riskRaised}`));
  const table = planTable(plan);
  if (table) {
    if (plan.sample?.caption && !plan.backends?.length) lines.push(c.dim(`Sample: ${plan.sample.caption}`));
    lines.push(...table.split('\n').map((line) => `    ${line}`));
  }
  if (plan.blocked) lines.push(c.yellow(blockedLine(plan.blocked)));
  lines.push(
    c.dim(
      'Preview only: nothing was executed. Requesting approval and executing happen in Slack, where the approvers are: run the procedure there and press Preview on this step.',
    ),
  );
  return lines;
}

function blockedLine(blocked: NonNullable<Plan['blocked']>): string {
  if (blocked.kind === 'nothing_to_do')
    return `Nothing to do: ${blocked.reason}. There is nothing to approve.`;
  if (blocked.kind === 'not_allowed') return `Not allowed on this target: ${blocked.reason}.`;
  return `Over the limit: ${blocked.reason}. It cannot be requested for approval.`;
}
