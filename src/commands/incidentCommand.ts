import { SEVERITIES, type Severity } from '../incidents/model.js';

/** The grammar of `/incident …`. Pure: text in, a parsed command or a message for the user out. */
export type IncidentCommand =
  | { kind: 'declare'; severity: Severity; title: string }
  | { kind: 'status'; text: string }
  | { kind: 'commander'; userId: string }
  | { kind: 'severity'; severity: Severity }
  | { kind: 'resolve'; summary?: string }
  | { kind: 'report' }
  | { kind: 'help' }
  | { kind: 'invalid'; message: string };

export const INCIDENT_USAGE = [
  '*Usage*',
  '• `/incident declare <P0|P1|P2|P3> <title>`: open an incident with its own channel',
  '• `/incident status <text>`: post a status update (in the incident channel)',
  '• `/incident commander @someone`: hand over command',
  '• `/incident severity <P0|P1|P2|P3>`: change the severity',
  '• `/incident resolve [summary]`: resolve it; the report draft follows',
  '• `/incident report`: draft the report now',
].join('\n');

const invalid = (message: string): IncidentCommand => ({ kind: 'invalid', message });

function severityOf(word: string | undefined): Severity | undefined {
  const upper = word?.toUpperCase();
  return SEVERITIES.find((severity) => severity === upper);
}

/** A word meant as a severity that is not one (P5, SEV1, high): answered as such, not as a missing one. */
function notASeverity(word: string | undefined, example: string): string | undefined {
  if (!word || !/^(?:p|sev)-?\d+$|^(?:critical|high|medium|low)$/i.test(word)) return undefined;
  return `${word.slice(0, 16)} is not one of the severities ${SEVERITIES.join(', ')} (${SEVERITIES[0]} is the most urgent): \`${example}\``;
}

export function parseIncidentCommand(text: string): IncidentCommand {
  const trimmed = text.trim();
  const [subcommand = '', ...words] = trimmed.split(/\s+/);
  const rest = trimmed.slice(subcommand.length).trim();
  switch (subcommand.toLowerCase()) {
    case '':
    case 'help':
      return { kind: 'help' };
    case 'declare': {
      const severity = severityOf(words[0]);
      const title = rest.slice(words[0]?.length ?? 0).trim();
      if (!severity)
        return invalid(
          notASeverity(words[0], '/incident declare P1 Checkout failing') ??
            '`/incident declare` needs a severity first: `/incident declare P1 Checkout failing`',
        );
      if (!title)
        return invalid('`/incident declare` needs a title: `/incident declare P1 Checkout failing`');
      if (title.length > 200)
        return invalid('The title is over 200 characters; keep it short and put details in a status.');
      return { kind: 'declare', severity, title };
    }
    case 'status':
      return rest
        ? { kind: 'status', text: rest.slice(0, 3000) }
        : invalid('`/incident status` needs the update: `/incident status Replica caught up`');
    case 'commander': {
      // With escaping on, Slack sends a mention as <@U123|name>.
      const userId = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(rest)?.[1];
      return userId
        ? { kind: 'commander', userId }
        : invalid('`/incident commander` needs a person: `/incident commander @alex`');
    }
    case 'severity': {
      const severity = severityOf(words[0]);
      return severity && words.length === 1
        ? { kind: 'severity', severity }
        : invalid(
            (words.length === 1 && notASeverity(words[0], '/incident severity P0')) ||
              `\`/incident severity\` takes one of ${SEVERITIES.join(', ')}: \`/incident severity P0\``,
          );
    }
    case 'resolve':
      return { kind: 'resolve', summary: rest ? rest.slice(0, 3000) : undefined };
    case 'report':
      return words.length === 0 ? { kind: 'report' } : invalid('`/incident report` takes no arguments.');
    default:
      return invalid(`Unknown subcommand "${subcommand.slice(0, 32)}".\n${INCIDENT_USAGE}`);
  }
}
