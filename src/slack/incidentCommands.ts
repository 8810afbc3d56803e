import { z } from 'zod';
import { type Answer, done, refusal } from '../answer.js';
import { INCIDENT_USAGE, parseIncidentCommand } from '../commands/incidentCommand.js';
import type { IncidentService } from '../incidents/incidentService.js';
import { SEVERITIES } from '../incidents/model.js';

/** What a "Declare incident" button carries (set by the report that offers it). */
export const declareButtonSchema = z.object({
  severity: z.enum(SEVERITIES as ['P0', 'P1', 'P2', 'P3']),
  title: z.string().min(1).max(200),
  target: z.string().min(1).max(64).optional(),
});

/** Answers `/incident …` with ephemeral text; the Slack side follows from the notifier. */
export async function answerIncidentCommand(
  incidents: IncidentService,
  command: { text: string; user_id: string; channel_id: string; trigger_id: string },
): Promise<Answer> {
  const parsed = parseIncidentCommand(command.text);
  const user = command.user_id;
  const channel = command.channel_id;
  switch (parsed.kind) {
    case 'help':
      return done(INCIDENT_USAGE);
    case 'invalid':
      return refusal(parsed.message);
    case 'declare':
      return incidents.declare({
        severity: parsed.severity,
        title: parsed.title,
        user,
        channelId: channel,
        requestId: command.trigger_id,
      });
    case 'status':
      return incidents.update(channel, user, { statusText: parsed.text });
    case 'commander':
      return incidents.update(channel, user, { commander: parsed.userId });
    case 'severity':
      return incidents.update(channel, user, { severity: parsed.severity });
    case 'resolve':
      return incidents.resolve(channel, user, parsed.summary);
    case 'report':
      return incidents.report(channel);
  }
}
