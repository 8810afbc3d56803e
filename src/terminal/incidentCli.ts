import type { Command } from 'commander';
import { loadTerminalSettings } from '../config.js';
import { UserError } from '../errors.js';
import { composeIncidentReport } from '../incidents/reportDraft.js';
import { gatherReportInput } from '../incidents/reportInput.js';
import { IncidentStore } from '../store/incidents.js';
import { isTimeZone } from '../time.js';
import type { CliIo } from './cliIo.js';
import { withStateDatabase } from './stateDatabase.js';

/** `runbook-bot report <incident>`: the report draft from the state database, as Markdown or JSON. */
export function addIncidentCommands(program: Command, io: CliIo): void {
  program
    .command('report')
    .description('Print the report draft of an incident (INC-42, 42 or its id) from the state database')
    .argument('<incident>', 'INC-42, 42, or the incident id')
    .option('--format <format>', 'md or json', 'md')
    .option('--tz <zone>', 'time zone of the times in the report (default REPORT_TIME_ZONE or UTC)')
    .action(async (reference: string, options: { format: string; tz?: string }) => {
      if (options.format !== 'md' && options.format !== 'json')
        throw new UserError(`--format must be md or json, got "${options.format}"`);
      const timeZone = options.tz ?? loadTerminalSettings(io.env).reportTimeZone ?? 'UTC';
      if (!isTimeZone(timeZone))
        throw new UserError(`"${timeZone}" is not a time zone; use an IANA name such as Europe/Berlin.`);
      await withStateDatabase(io, { command: 'report', what: 'incidents' }, async (db) => {
        const incident = await new IncidentStore(db).find(reference);
        if (!incident) throw new UserError(`No incident "${reference}".`);
        const draft = composeIncidentReport(await gatherReportInput(db, incident, timeZone));
        io.stdout(options.format === 'json' ? JSON.stringify(draft.json, null, 2) : draft.markdown);
      });
    });
}
