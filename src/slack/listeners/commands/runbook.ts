import type { App } from '@slack/bolt';
import { done, refusal } from '../../../answer.js';
import { parseRunbookCommand, RUNBOOK_USAGE, type RunbookCommand } from '../../../commands/runbookCommand.js';
import { UserError } from '../../../errors.js';
import { fleetSelectorFromWord } from '../../../health/fleet.js';
import { startFleetHealth } from '../../../health/fleetRunStarter.js';
import { matchProcedures } from '../../../runbooks/matchProcedures.js';
import { startProcedureRun } from '../../../runbooks/startProcedureRun.js';
import {
  matchListText,
  procedureText,
  reloadText,
  runbookListText,
  targetListText,
} from '../../views/runbookText.js';
import type { ListenerDeps } from '../deps.js';
import { type CommandAnswer, registerSlashCommand, type SlashPayload } from './slashCommand.js';

type Subcommand = Exclude<RunbookCommand, { kind: 'help' | 'invalid' }>;

/** `/runbook …`: health runs and procedure runs are started; the library is answered from memory. */
export function register(app: App, deps: ListenerDeps): void {
  registerSlashCommand<Subcommand>(app, deps, {
    name: '/runbook',
    usage: RUNBOOK_USAGE,
    parse: parseRunbookCommand,
    subcommands: ['health', 'targets', 'list', 'show', 'run', 'match', 'reload'],
    answer: async (command, payload) => {
      try {
        return await answer(deps, command, payload);
      } catch (err) {
        // An unknown procedure or target, named in words for the person who typed it.
        if (err instanceof UserError)
          return refusal(err.message, { outcome: 'invalid', suggestions: err.suggestions });
        throw err;
      }
    },
  });
}

async function answer(
  deps: ListenerDeps,
  command: Subcommand,
  payload: SlashPayload,
): Promise<CommandAnswer> {
  switch (command.kind) {
    case 'health': {
      const fleet = command.target ? fleetSelectorFromWord(command.target, deps.targets) : undefined;
      if (fleet)
        return startFleetHealth(deps, {
          selector: fleet,
          requestedBy: payload.user_id,
          channelId: payload.channel_id,
          idempotencyKey: `slash:${payload.trigger_id}`,
        });
      return deps.healthRuns.start({
        target: deps.targets.resolve(command.target).name,
        requestedBy: payload.user_id,
        channelId: payload.channel_id,
        responseUrl: payload.response_url,
        idempotencyKey: `slash:${payload.trigger_id}`,
      });
    }
    case 'run':
      return startProcedureRun(deps, command, {
        userId: payload.user_id,
        channelId: payload.channel_id,
        idempotencyKey: `slash:${payload.trigger_id}`,
      });
    case 'list':
      return done(
        command.query
          ? matchListText(
              command.query,
              matchProcedures(command.query, deps.runbooks.procedures(), 25),
              'list',
            )
          : runbookListText(deps.runbooks.list()),
      );
    case 'show': {
      const runbook = deps.runbooks.runbook(command.id.toLowerCase());
      return done(
        runbook ? runbookListText([runbook]) : procedureText(deps.runbooks.resolveProcedure(command.id)),
      );
    }
    case 'targets':
      return done(targetListText(deps.targets.list(), command.filter));
    case 'match':
      return done(
        matchListText(command.text, matchProcedures(command.text, deps.runbooks.procedures()), 'match'),
      );
    case 'reload':
      // Parsing every file takes about a second here and grows with RUNBOOKS_DIR: the command
      // is acknowledged first and the summary follows.
      return done('Reloading the runbook files…', {
        followUp: async () => reloadText(await deps.runbooks.reload()),
      });
  }
}
