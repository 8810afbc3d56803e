import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { TargetUnreachableError, UserError } from '../errors.js';
import { thresholdsForTarget } from '../health/runbookThresholds.js';
import { createLogger } from '../logger.js';
import { runProcedureChecks } from '../runbooks/execute/procedureChecks.js';
import { readSafety, vouchedFunctions } from '../runbooks/execute/readSafety.js';
import { byLocation, type LintFinding } from '../runbooks/lint/findings.js';
import { lintOnCatalog } from '../runbooks/lint/lintOnCatalog.js';
import { lintRunbook } from '../runbooks/lint/lintRunbook.js';
import { matchProcedures } from '../runbooks/matchProcedures.js';
import type { Runbook } from '../runbooks/model.js';
import { parameterProblems, parseAssignments, waitingFor } from '../runbooks/procedureParams.js';
import {
  relatedFindingText,
  relatedHealthChecks,
  runRelatedHealthChecks,
} from '../runbooks/relatedHealthChecks.js';
import { loadRunbookFile } from '../runbooks/runbookFiles.js';
import { RunbookLibrary, runbookSources } from '../runbooks/runbookLibrary.js';
import { describeConnectionFailure, failureText, isConnectionFailure } from '../targets/connectionErrors.js';
import { TargetPools } from '../targets/pools.js';
import { ReadOnlySession } from '../targets/readOnly.js';
import { privilegeWarning, rolePrivileges } from '../targets/rolePrivileges.js';
import type { CliIo } from './cliIo.js';
import { EXIT } from './exitCodes.js';
import {
  checkResultLines,
  colors,
  findingLines,
  lintLines,
  matchLines,
  procedureLines,
  stepLine,
} from './runbookText.js';

/**
 * `lint`, `list`, `show`, `match` and `run`: the runbook library from a terminal. `run`
 * runs checks only; actions need Slack's preview and approval.
 */
export function addRunbookCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const c = colors(io.color);

  program
    .command('lint')
    .description(
      'Show what the bot understood of runbook files: procedures, steps, risks, parameters, warnings',
    )
    .argument('<files...>', 'Markdown runbook files')
    .option('--json', 'print the parsed runbooks as JSON')
    .option(
      '-t, --target <name>',
      "also resolve every statement against a target's catalog (without running it), and judge each check and the role checks would run as there",
    )
    .action(async (files: string[], options: { json?: boolean; target?: string }) => {
      const runbooks: Runbook[] = [];
      for (const file of files) {
        try {
          runbooks.push(await loadRunbookFile(resolve(file), 'file'));
        } catch (err) {
          throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
        }
      }
      const findings = runbooks.flatMap((runbook) => lintRunbook(runbook));
      const onTarget = options.target
        ? await lintOnTarget(io, runbooks, options.target)
        : { warnings: [], findings: [] };
      findings.push(...onTarget.findings);
      findings.sort(byLocation);
      const findingsOf = (runbook: Runbook) =>
        findings.filter((finding) => finding.file === runbook.source.file);
      if (options.json)
        io.stdout(
          JSON.stringify(
            runbooks.map((runbook) => ({ ...runbook, findings: findingsOf(runbook) })),
            null,
            2,
          ),
        );
      else
        for (const runbook of runbooks)
          io.stdout([...lintLines(runbook, c), ...findingLines(findingsOf(runbook), c)].join('\n'));
      for (const warning of onTarget.warnings) io.stderr(c.yellow(`warning: ${warning}`));
      // Errors are statements that cannot run as written; warnings are worth a look. Both
      // fail an author's CI; a script can tell them apart.
      if (findings.some((finding) => finding.severity === 'error')) setExitCode(EXIT.critical);
      else
        setExitCode(
          onTarget.warnings.length > 0 ||
            findings.length > 0 ||
            runbooks.some((runbook) => runbook.warnings.length > 0)
            ? EXIT.warn
            : EXIT.ok,
        );
    });

  program
    .command('list')
    .description('List runbooks and procedures, or those matching a title, symptom or error code')
    .argument('[query...]', 'words to look for')
    .action(async (query: string[]) => {
      const library = await loadLibrary(io);
      if (query.length > 0) {
        io.stdout(matchLines(matchProcedures(query.join(' '), library.procedures(), 25), c).join('\n'));
        return;
      }
      for (const runbook of library.list()) {
        io.stdout(
          `${c.bold(runbook.id)}  ${runbook.title}  ${c.dim(`${runbook.source.origin}: ${runbook.source.file}`)}`,
        );
        for (const procedure of runbook.procedures)
          io.stdout(`    ${procedure.id}  ${c.dim(procedure.title)}`);
      }
    });

  program
    .command('show')
    .description("Show a procedure's steps")
    .argument('<procedure>', 'procedure id, e.g. postgres-health#vacuum-table')
    .action(async (reference: string) => {
      const library = await loadLibrary(io);
      const { procedure } = library.resolveProcedure(reference);
      io.stdout(procedureLines(procedure, c).join('\n'));
    });

  program
    .command('match')
    .description('Rank procedures by symptoms and error strings')
    .argument('<text...>', 'what you see, e.g. "too many connections"')
    .action(async (text: string[]) => {
      const matches = matchProcedures(text.join(' '), (await loadLibrary(io)).procedures());
      io.stdout(matches.length > 0 ? matchLines(matches, c).join('\n') : 'No procedure matches.');
    });

  program
    .command('run')
    .description("Run a procedure's checks against a target (actions are listed, never run)")
    .argument('<procedure>', 'procedure id')
    .argument('[params...]', 'parameters as name=value')
    .option('-t, --target <name>', 'target (default: the configured default)')
    .option('--json', 'print the results as JSON')
    .action(async (reference: string, words: string[], options: { target?: string; json?: boolean }) => {
      setExitCode(await runProcedure(io, reference, words, options));
    });
}

/**
 * What a target would make of the runbooks: the role checks would run as, each check its
 * catalog shows can act (a view, an overload, a policy), which would not run as a check, and
 * every statement's names resolved against its catalog (lintOnCatalog).
 */
async function lintOnTarget(
  io: CliIo,
  runbooks: Runbook[],
  name: string,
): Promise<{ warnings: string[]; findings: LintFinding[] }> {
  const config = loadConfig(io.env);
  const target = config.targets.resolve(name);
  const logger = createLogger({ level: config.logLevel ?? 'warn', destination: process.stderr });
  const pools = new TargetPools(logger);
  const warnings: string[] = [];
  let findings: LintFinding[] = [];
  try {
    const client = await pools
      .readOnly(target)
      .connect()
      .catch((err: unknown) => {
        throw new TargetUnreachableError(
          `cannot reach ${target.name}: ${describeConnectionFailure(err, target.url, target.settings.connectTimeoutMs)}`,
        );
      });
    const session = new ReadOnlySession(client);
    let failure: Error | undefined;
    try {
      const role = await rolePrivileges(client);
      const roleWarning = privilegeWarning(role);
      if (roleWarning) warnings.push(`${target.name}: ${roleWarning}`);
      for (const runbook of runbooks)
        for (const procedure of runbook.procedures)
          for (const step of procedure.steps) {
            // A check that names a table by parameter is judged when it runs, on that table.
            if (step.kind !== 'check' || step.statement.identifiers?.length) continue;
            const safety = await session.run(target.settings, (connection) =>
              readSafety(connection, step.statement.sql, vouchedFunctions(step.statement.functions)),
            );
            if (!safety.safe)
              warnings.push(
                `${runbook.source.file}:${step.source.line}: check "${step.title}" would not run as a check on ${target.name}: ${safety.reasons.join('; ')}`,
              );
          }
      findings = await lintOnCatalog(runbooks, target.name, (work) => session.run(target.settings, work));
      await session.close();
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.release(failure ?? false);
    }
  } finally {
    await pools.closeAll();
  }
  return { warnings, findings };
}

export async function loadLibrary(io: CliIo): Promise<RunbookLibrary> {
  const config = loadConfig(io.env);
  const { library, summary } = await RunbookLibrary.load(runbookSources(config.runbooksDir));
  for (const problem of summary.problems) io.stderr(`warning: ${problem.file}: ${problem.message}`);
  return library;
}

async function runProcedure(
  io: CliIo,
  reference: string,
  words: string[],
  options: { target?: string; json?: boolean },
): Promise<number> {
  const c = colors(io.color);
  const config = loadConfig(io.env);
  const library = await loadLibrary(io);
  const { procedure } = library.resolveProcedure(reference);
  const target = config.targets.resolve(options.target);
  const { values, rest } = parseAssignments(words);
  if (rest.length > 0)
    throw new UserError(`parameters are name=value; "${rest[0]}" is not (use --target for the target)`);
  const problems = parameterProblems(procedure, values);
  if (problems.length > 0) throw new UserError(`cannot run ${procedure.id}:\n  ${problems.join('\n  ')}`);

  const logger = createLogger({ level: config.logLevel ?? 'warn', destination: process.stderr });
  const pools = new TargetPools(logger);
  try {
    const found = await runProcedureChecks(pools.readOnly(target), target, procedure.steps, values).catch(
      (err: unknown) => {
        if (err instanceof UserError) throw err;
        // Only a connection that failed is "unreachable" (exit 4); a catalog lookup that timed
        // out on a reachable target is a check that could not run (exit 3), as preview says.
        if (isConnectionFailure(err))
          throw new TargetUnreachableError(
            `cannot reach ${target.name}: ${describeConnectionFailure(err, target.url, target.settings.connectTimeoutMs)}`,
          );
        throw new UserError(
          `cannot run the checks of ${procedure.id} on ${target.name}: ${failureText(err)}`,
        );
      },
    );
    // What the bot's own checks know about the same problem; informative, never the exit code.
    const related = await runRelatedHealthChecks(
      target,
      pools.readOnly(target),
      relatedHealthChecks(procedure.id, library),
      // The target's runbook thresholds, as the worker judges the same checks in Slack.
      { logger, runbookThresholds: thresholdsForTarget(target, library) },
    );
    if (options.json) {
      io.stdout(
        JSON.stringify(
          {
            procedure: procedure.id,
            target: target.name,
            results: found.flatMap(({ step, result }) =>
              result ? [{ step: step.id, title: step.title, ...result }] : [],
            ),
            related,
          },
          null,
          2,
        ),
      );
    } else {
      io.stdout(`${c.bold(procedure.title)} on ${target.name}`);
      for (const [i, { step, result }] of found.entries()) {
        io.stdout(stepLine(step, i + 1, c));
        if (result) io.stdout(checkResultLines(result, c).join('\n'));
        else if (step.kind === 'check') {
          const waiting = waitingFor(step, procedure.steps, values).map((param) => param.name);
          io.stdout(
            c.dim(
              `    not run yet: needs ${waiting.join(', ')}, which the fix's preview asks for; it runs before and after the fix`,
            ),
          );
        } else if (step.kind === 'action') {
          io.stdout(
            c.dim(
              `    not run: actions need a preview and approval in Slack; \`runbook-bot preview ${procedure.id} ${i + 1}\` shows its plan`,
            ),
          );
          // Why the target's catalog kept it an action, when it was asked.
          for (const reason of step.actionReasons.filter((text) => text.startsWith('on this target:')))
            io.stdout(c.yellow(`      ${reason}`));
        }
      }
      for (const finding of related) {
        const line = relatedFindingText(finding);
        io.stdout(finding.status === 'ok' ? c.dim(line) : c.yellow(line));
      }
    }
    const results = found.flatMap(({ result }) => (result ? [result] : []));
    if (results.some((result) => result.status === 'error')) return EXIT.couldNotRun;
    // A check that can act on this target was not run: worth a non-zero exit in a script.
    // So is a check that did not return what its runbook expects.
    return results.some((result) => result.status === 'action' || result.verdict?.met === false)
      ? EXIT.warn
      : EXIT.ok;
  } finally {
    await pools.closeAll();
  }
}
