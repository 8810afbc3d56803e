import { z } from 'zod';
import { SEVERITIES } from '../../../incidents/model.js';
import { ACTIONS } from '../../actionIds.js';
import type { ListenerDeps } from '../deps.js';
import { answerReply, type Buttons, jsonValue, plainValue } from './buttons.js';

/** What a "Declare incident" button carries (set by the health report that offers it). */
const declareButtonSchema = z.object({
  severity: z.enum(SEVERITIES as ['P0', 'P1', 'P2', 'P3']),
  title: z.string().min(1).max(200),
  target: z.string().min(1).max(64).optional(),
});

/** The incident root message's buttons, and "Declare incident" on a report with a critical finding. */
export function register(buttons: Buttons, deps: ListenerDeps): void {
  // The button names its incident: in `current` channel mode a channel can hold several.
  const incidentId = plainValue(z.uuid());
  // They do what `/incident report` and `/incident resolve` do there.
  buttons.on(ACTIONS.incidentReport, incidentId, {
    act: async ({ channel, value }) => answerReply(await deps.incidents.report(channel, value)),
  });
  buttons.on(ACTIONS.incidentResolve, incidentId, {
    act: async ({ channel, user, value }) =>
      answerReply(await deps.incidents.resolve(channel, user, undefined, value)),
  });
  // The same as `/incident declare`.
  buttons.on(ACTIONS.declareIncident, jsonValue(declareButtonSchema), {
    act: async ({ value, user, channel, clickId }) =>
      answerReply(
        await deps.incidents.declare({
          ...value,
          user,
          channelId: channel,
          requestId: `button:${clickId}:${user}`,
        }),
      ),
  });
}
