import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type pg from 'pg';
import { type Answer, answerText } from '../answer.js';
import { AuditLog } from '../audit/auditLog.js';
import { loadAuditSettings, loadConfig, loadIncidentSettings, loadTerminalSettings } from '../config.js';
import { UserError } from '../errors.js';
import { IncidentService } from '../incidents/incidentService.js';
import { SEVERITIES, type Severity } from '../incidents/model.js';
import { composeIncidentReport, peopleInReport } from '../incidents/reportDraft.js';
import { gatherReportInput } from '../incidents/reportInput.js';
import { createQueueBackend } from '../jobs/queueBackend.js';
import { createLogger } from '../logger.js';
import type { RunbookLibrary } from '../runbooks/runbookLibrary.js';
import { IncidentStore, type StoredIncident } from '../store/incidents.js';
import { isTimeZone } from '../timeInput.js';
import { type CliIo, terminalCommand } from './cliIo.js';
import { EXIT } from './exitCodes.js';
import { peopleNames } from './people.js';
import { loadLibrary } from './runbookCli.js';
import { withStateDatabase } from './stateDatabase.js';

/**
 * `runbook-bot incident declare|status|resolve|report`, with the words of `/incident`, and
 * `runbook-bot report` (kept as it was). The changes go through the use case Slack's
 * commands use (IncidentService): the same records, audit events, pages and jobs. The
 * incident is still worked in Slack: the bot's worker opens its channel, posts and pins its
 * root message and starts its timers from the queued job, as for a declaration typed there;
 * so a change names its Slack user (`--as`), and its event records the terminal user too.
 */
export function addIncidentCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const reportOptions = (command: Command) =>
    command
      .argument('<incident>', 'INC-42, 42, or the incident id')
      .option('--format <format>', 'md or json', 'md')
      .option('--tz <zone>', 'time zone of the times in the report (default REPORT_TIME_ZONE or UTC)')
      .action((reference: string, options: ReportOptions) => report(io, reference, options));
  reportOptions(
    program
      .command('report')
      .description('Print the report draft of an incident (INC-42, 42 or its id) from the state database'),
  );

  const incident = program
    .command('incident')
    .description('Declare, update, resolve and report incidents, as /incident does in Slack');
  incident
    .command('declare')
    .description('Declare an incident: recorded now; the bot opens its Slack channel')
    .argument('<severity>', SEVERITIES.join(', '))
    .argument('<title...>', 'what is wrong, e.g. Checkout failing')
    .requiredOption(
      '--as <slack-user-id>',
      'who declares it (U…): invited to its channel, named in its report',
    )
    .requiredOption(
      '--channel <channel-id>',
      'the Slack channel it is announced in (and worked in, with INCIDENT_CHANNEL_MODE=current)',
    )
    .option('-t, --target <name>', 'the database it is about')
    .action(async (severity: string, title: string[], options: DeclareOptions) => {
      const words = title.join(' ').trim();
      if (words.length > 200)
        throw new UserError('The title is over 200 characters; keep it short and put details in a status.');
      const input = {
        severity: severityOf(severity),
        title: words,
        user: slackUser(options.as),
        channelId: slackChannel(options.channel),
        requestId: `terminal:${randomUUID()}`,
        via: terminalUser(),
        ...(options.target ? { target: loadConfig(io.env).targets.resolve(options.target).name } : {}),
      };
      const runbooks = await loadLibrary(io);
      setExitCode(
        await withIncidents(io, 'incident declare', (service) => service.declare(input), {
          runbooks,
          after: OPENED_BY_THE_BOT,
        }),
      );
    });
  incident
    .command('status')
    .description('Post a status update of an open incident (in its channel)')
    .argument('<incident>', 'INC-42, 42, or the incident id')
    .argument('<text...>', 'the update, e.g. Replica caught up')
    .requiredOption('--as <slack-user-id>', 'who posts it (U…)')
    .action(async (reference: string, text: string[], options: { as: string }) => {
      const user = slackUser(options.as);
      setExitCode(
        await withIncidents(io, 'incident status', async (service, found) => {
          const incident = await found(reference);
          return service.update(
            incident.channelId,
            user,
            { statusText: text.join(' ').slice(0, 3000) },
            { incidentId: incident.id, via: terminalUser() },
          );
        }),
      );
    });
  incident
    .command('resolve')
    .description('Resolve an incident; the bot posts the report draft in its thread')
    .argument('<incident>', 'INC-42, 42, or the incident id')
    .argument('[summary...]', 'how it was resolved')
    .requiredOption('--as <slack-user-id>', 'who resolves it (U…)')
    .action(async (reference: string, summary: string[], options: { as: string }) => {
      const user = slackUser(options.as);
      const text = summary.join(' ').trim();
      setExitCode(
        await withIncidents(io, 'incident resolve', async (service, found) => {
          const incident = await found(reference);
          return service.resolve(
            incident.channelId,
            user,
            text ? text.slice(0, 3000) : undefined,
            incident.id,
            {
              via: terminalUser(),
            },
          );
        }),
      );
    });
  reportOptions(
    incident
      .command('report')
      .description('Print the report draft of an incident, as `runbook-bot report` does'),
  );
}

const OPENED_BY_THE_BOT =
  '\nThe bot opens it in Slack (channel, pinned root message, timers) from the job queue: a worker must be running on the same DATABASE_URL (and REDIS_URL, when the bot uses Redis).';

interface DeclareOptions {
  as: string;
  channel: string;
  target?: string;
}

interface ReportOptions {
  format: string;
  tz?: string;
}

/** The incident service on the bot's state database and job queue; its answer printed, as an exit code. */
async function withIncidents(
  io: CliIo,
  command: string,
  use: (service: IncidentService, found: (reference: string) => Promise<StoredIncident>) => Promise<Answer>,
  options: { runbooks?: RunbookLibrary; after?: string } = {},
): Promise<number> {
  const { incidents: settings, redisUrl } = loadIncidentSettings(io.env);
  const { hmacKey } = loadAuditSettings(io.env);
  const logger = createLogger({ level: loadConfig(io.env).logLevel ?? 'warn', destination: process.stderr });
  return withStateDatabase(io, { command, what: 'incidents' }, async (db: pg.Pool) => {
    const databaseUrl = loadTerminalSettings(io.env).stateDatabaseUrl ?? '';
    const queues = await createQueueBackend({ redisUrl, databaseUrl }, logger);
    try {
      const incidents = new IncidentStore(db);
      const service = new IncidentService({
        incidents,
        audit: new AuditLog(db, hmacKey ? { hmacKey } : {}),
        queues,
        settings,
        logger,
        ...(options.runbooks ? { runbooks: options.runbooks } : {}),
      });
      const found = async (reference: string) => {
        const incident = await incidents.find(reference);
        if (!incident) throw new UserError(`No incident "${reference}".`);
        return incident;
      };
      const answer = await use(service, found);
      if (!answer.ok) {
        io.stderr(`error: ${answerText(answer, terminalCommand)}`);
        return EXIT.couldNotRun;
      }
      io.stdout(`${answer.text ?? ''}${options.after ?? ''}`.trim());
      return EXIT.ok;
    } finally {
      await queues.close();
    }
  });
}

async function report(io: CliIo, reference: string, options: ReportOptions): Promise<void> {
  if (options.format !== 'md' && options.format !== 'json')
    throw new UserError(`--format must be md or json, got "${options.format}"`);
  const timeZone = options.tz ?? loadTerminalSettings(io.env).reportTimeZone ?? 'UTC';
  if (!isTimeZone(timeZone))
    throw new UserError(`"${timeZone}" is not a time zone; use an IANA name such as Europe/Berlin.`);
  await withStateDatabase(io, { command: 'report', what: 'incidents' }, async (db) => {
    const incident = await new IncidentStore(db).find(reference);
    if (!incident) throw new UserError(`No incident "${reference}".`);
    const input = await gatherReportInput(db, incident, timeZone);
    // Named as the report Slack posts names them, when the bot's token is at hand.
    const draft = composeIncidentReport({ ...input, people: await peopleNames(io, peopleInReport(input)) });
    io.stdout(options.format === 'json' ? JSON.stringify(draft.json, null, 2) : draft.markdown);
  });
}

function severityOf(word: string): Severity {
  const severity = SEVERITIES.find((known) => known === word.toUpperCase());
  if (!severity)
    throw new UserError(`"${word}" is not a severity; use one of ${SEVERITIES.join(', ')}, e.g. P1.`);
  return severity;
}

function slackUser(id: string): string {
  if (!/^[UW][A-Z0-9]{2,}$/.test(id))
    throw new UserError(
      `--as takes a Slack user id (U…, in Slack: the person's profile → ⋯ → Copy member ID), got "${id}".`,
    );
  return id;
}

function slackChannel(id: string): string {
  if (!/^[CG][A-Z0-9]{2,}$/.test(id))
    throw new UserError(
      `--channel takes a Slack channel id (C…, in Slack: the channel's details, at the bottom), got "${id}".`,
    );
  return id;
}

/** Who typed it at this machine, recorded with the audit event next to the Slack user. */
function terminalUser(): string {
  try {
    return `terminal:${userInfo().username}`;
  } catch {
    return 'terminal';
  }
}
