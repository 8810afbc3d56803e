import { Command, CommanderError } from 'commander';
import { suggestionsText } from './answer.js';
import { TargetUnreachableError, UserError } from './errors.js';
import { redactText } from './redact.js';
import { type CliIo, terminalCommand } from './terminal/cliIo.js';
import { EXIT } from './terminal/exitCodes.js';

/** Adds one family of commands to the program (each terminal/*Cli.ts exports one). */
type AddCommands = (program: Command, io: CliIo, setExitCode: (code: number) => void) => void;

/**
 * The modules that add the commands, in the order `--help` lists them. Each is imported only
 * when its command runs: a process pays for the modules of its one command (`health` does not
 * load the runbook parsers, the queue or the audit log), which is most of a short command's
 * time. `commands` are the top-level names the module adds (a test keeps them true).
 */
export const COMMAND_MODULES: ReadonlyArray<{
  commands: readonly string[];
  load: () => Promise<AddCommands>;
}> = [
  { commands: ['health'], load: async () => (await import('./terminal/healthCli.js')).addHealthCommand },
  { commands: ['targets'], load: async () => (await import('./terminal/targetsCli.js')).addTargetsCommand },
  { commands: ['checks'], load: async () => (await import('./terminal/checksCli.js')).addChecksCommand },
  { commands: ['history'], load: async () => (await import('./terminal/historyCli.js')).addHistoryCommand },
  {
    commands: ['lint', 'list', 'show', 'match', 'run'],
    load: async () => (await import('./terminal/runbookCli.js')).addRunbookCommands,
  },
  { commands: ['preview'], load: async () => (await import('./terminal/previewCli.js')).addPreviewCommand },
  { commands: ['audit'], load: async () => (await import('./terminal/auditCli.js')).addAuditCommands },
  {
    commands: ['report', 'incident'],
    load: async () => (await import('./terminal/incidentCli.js')).addIncidentCommands,
  },
  {
    commands: ['init-roles'],
    load: async () => (await import('./terminal/initRoles.js')).addInitRolesCommand,
  },
];

/**
 * The modules a command line needs: the one adding its command, or all of them when it names
 * none it knows (`--help`, `help health`, a typo: commander then lists or suggests every command).
 * The program has no options of its own, so the first word not starting with `-` is the command.
 */
function modulesFor(argv: readonly string[]): typeof COMMAND_MODULES {
  const word = argv.find((arg) => !arg.startsWith('-'));
  const owner = COMMAND_MODULES.find((module) => word !== undefined && module.commands.includes(word));
  return owner ? [owner] : COMMAND_MODULES;
}

/**
 * The `runbook-bot` command line. Returns the exit code instead of exiting so tests can run
 * it in-process: 0 ok, 1 warn, 2 critical, 3 could not run (bad input, config), 4 unreachable.
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
  for (const add of await Promise.all(modulesFor(argv).map((module) => module.load())))
    add(program, io, setExitCode);

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
      return err instanceof TargetUnreachableError ? EXIT.unreachable : EXIT.couldNotRun;
    }
    io.stderr(
      `unexpected error: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}`,
    );
    return EXIT.couldNotRun;
  }
}
