import type { SpellCommand } from '../answer.js';
import { parseAssignments, type RawValues, splitCommandWords } from '../runbooks/procedureParams.js';
import { TAG_NAME } from '../targets/targetsFile.js';

/**
 * The grammar of `/runbook …`. Pure: text in, a parsed command or a message for the user
 * out; whether a procedure or target exists is decided later, against the library.
 */
export type RunbookCommand =
  | { kind: 'health'; target?: string }
  | { kind: 'list'; query?: string }
  | { kind: 'show'; id: string }
  | { kind: 'run'; procedure: string; target?: string; values: RawValues }
  | { kind: 'match'; text: string }
  | { kind: 'reload' }
  | { kind: 'targets'; filter?: string }
  | { kind: 'help' }
  | { kind: 'invalid'; message: string };

const TARGET_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** `tag:production`: every target with that tag (see health/fleet.ts). */
const TAG_SELECTOR = new RegExp(`^tag:${TAG_NAME.source.slice(1)}`);
const PROCEDURE_REF = /^[a-z0-9][a-z0-9_#-]{0,200}$/i;

export const RUNBOOK_USAGE = [
  '*Usage*',
  '• `/runbook health [target]`: check a database and post what is wrong here',
  '• `/runbook health all` or `/runbook health tag:<tag>`: check every target (or those with the tag) and post one summary, problems first',
  '• `/runbook targets [tag:<tag> | words]`: the target databases you can name, with their tags',
  '• `/runbook list [query]`: runbooks and procedures, optionally only those matching a title, symptom or error code',
  '• `/runbook show <procedure>`: a procedure’s steps, what each one does and the parameters it needs',
  '• `/runbook run <procedure> [target] [name=value …]`: run its checks here; actions get a Preview button, manual steps a Done button',
  '• `/runbook match <what you see>`: procedures ranked by symptoms and error strings, e.g. `/runbook match PGRST002`',
  '• `/runbook reload`: read the runbook files again',
  '• `/runbook help`: this message',
].join('\n');

/** A suggested command as Slack writes it: `/runbook list`, `/incident declare P1 <title>`. */
export const slashCommand: SpellCommand = (suggestion) => `/${suggestion.family} ${suggestion.words}`;

const invalid = (message: string): RunbookCommand => ({ kind: 'invalid', message });

function targetProblem(target: string, example: string): RunbookCommand | undefined {
  if (TARGET_NAME.test(target)) return undefined;
  return invalid(
    `"${target.slice(0, 64)}" is not a target name (lowercase letters, digits, - and _). Example: \`${example}\``,
  );
}

export function parseRunbookCommand(text: string): RunbookCommand {
  const words = splitCommandWords(text.trim());
  const [subcommand, ...args] = words;
  const rest = text
    .trim()
    .slice(subcommand?.length ?? 0)
    .trim();
  if (!subcommand || subcommand.toLowerCase() === 'help') return { kind: 'help' };
  switch (subcommand.toLowerCase()) {
    case 'health': {
      if (args.length > 1)
        return invalid('`/runbook health` takes one optional argument, the target: `/runbook health prod`');
      const target = args[0];
      if (target?.startsWith('tag:'))
        return TAG_SELECTOR.test(target)
          ? { kind: 'health', target }
          : invalid(
              `"${target.slice(0, 70)}" is not a tag (letters, digits, ., - and _ after "tag:"). Example: \`/runbook health tag:production\``,
            );
      return (target && targetProblem(target, '/runbook health prod')) || { kind: 'health', target };
    }
    case 'list':
      return { kind: 'list', query: rest || undefined };
    case 'targets':
      if (args.length > 1 || (args[0]?.startsWith('tag:') && !TAG_SELECTOR.test(args[0])))
        return invalid(
          '`/runbook targets` takes one optional filter, a tag or a word of a name: `/runbook targets tag:production`, `/runbook targets billing`',
        );
      return { kind: 'targets', filter: args[0]?.slice(0, 70) };
    case 'show': {
      if (args.length !== 1 || !PROCEDURE_REF.test(args[0]!))
        return invalid('`/runbook show` takes a procedure id: `/runbook show postgres-health#vacuum-table`');
      return { kind: 'show', id: args[0]! };
    }
    case 'match':
      if (!rest) return invalid('`/runbook match` needs what you see: `/runbook match too many connections`');
      return { kind: 'match', text: rest.slice(0, 500) };
    case 'reload':
      return args.length === 0 ? { kind: 'reload' } : invalid('`/runbook reload` takes no arguments.');
    case 'run':
      return parseRun(args);
    default:
      return invalid(`Unknown subcommand "${subcommand.slice(0, 32)}".\n${RUNBOOK_USAGE}`);
  }
}

function parseRun(args: string[]): RunbookCommand {
  const example = '/runbook run postgres-health#cancel-long-running-query prod pid=12345';
  const [procedure, ...more] = args;
  if (!procedure || !PROCEDURE_REF.test(procedure))
    return invalid(`\`/runbook run\` needs a procedure id (see \`/runbook list\`): \`${example}\``);
  const { values, rest } = parseAssignments(more);
  if (rest.length > 1)
    return invalid(
      `\`/runbook run\` takes one target and parameters as name=value; "${rest.slice(1).join(' ').slice(0, 64)}" is neither. Example: \`${example}\``,
    );
  const target = rest[0];
  return (target && targetProblem(target, example)) || { kind: 'run', procedure, target, values };
}
