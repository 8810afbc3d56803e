/**
 * The grammar of `/runbook …`. Pure: text in, a parsed command or a message for the user
 * out. New subcommands (list, show, run) join the union as they are built.
 */
export type RunbookCommand =
  | { kind: 'health'; target?: string }
  | { kind: 'help' }
  | { kind: 'invalid'; message: string };

const TARGET_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const RUNBOOK_USAGE = [
  '*Usage*',
  '• `/runbook health [target]`: check a database and post what is wrong here',
  '• `/runbook help`: this message',
].join('\n');

export function parseRunbookCommand(text: string): RunbookCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const [subcommand, ...args] = words;
  if (!subcommand || subcommand.toLowerCase() === 'help') return { kind: 'help' };
  switch (subcommand.toLowerCase()) {
    case 'health': {
      if (args.length > 1) {
        return {
          kind: 'invalid',
          message: '`/runbook health` takes one optional argument, the target: `/runbook health prod`',
        };
      }
      const target = args[0];
      if (target !== undefined && !TARGET_NAME.test(target)) {
        return {
          kind: 'invalid',
          message: `"${target.slice(0, 64)}" is not a target name (lowercase letters, digits, - and _). Example: \`/runbook health prod\``,
        };
      }
      return { kind: 'health', target };
    }
    default:
      return {
        kind: 'invalid',
        message: `Unknown subcommand "${subcommand.slice(0, 32)}".\n${RUNBOOK_USAGE}`,
      };
  }
}
