import type { App } from '@slack/bolt';
import {
  INCIDENT_USAGE,
  type IncidentCommand,
  parseIncidentCommand,
} from '../../../commands/incidentCommand.js';
import type { ListenerDeps } from '../deps.js';
import { type CommandAnswer, registerSlashCommand } from './slashCommand.js';

type Subcommand = Exclude<IncidentCommand, { kind: 'help' | 'invalid' }>;

/** `/incident …`: each subcommand is a call on the incident service in the channel it was typed in. */
export function register(app: App, deps: ListenerDeps): void {
  registerSlashCommand<Subcommand>(app, deps, {
    name: '/incident',
    usage: INCIDENT_USAGE,
    parse: parseIncidentCommand,
    subcommands: ['declare', 'status', 'commander', 'severity', 'resolve', 'report'],
    answer: async (command, { user_id: user, channel_id: channel, trigger_id }): Promise<CommandAnswer> => {
      const incidents = deps.incidents;
      switch (command.kind) {
        case 'declare':
          return incidents.declare({
            severity: command.severity,
            title: command.title,
            user,
            channelId: channel,
            requestId: trigger_id,
          });
        case 'status':
          return incidents.update(channel, user, { statusText: command.text });
        case 'commander':
          return incidents.update(channel, user, { commander: command.userId });
        case 'severity':
          return incidents.update(channel, user, { severity: command.severity });
        case 'resolve':
          return incidents.resolve(channel, user, command.summary);
        case 'report':
          return incidents.report(channel);
      }
    },
  });
}
