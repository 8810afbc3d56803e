import { z } from 'zod';
import { UserError } from '../../../errors.js';
import { JOBS } from '../../../jobs/catalog.js';
import { ACTIONS } from '../../actionIds.js';
import type { ListenerDeps } from '../deps.js';
import { answerReply, type Buttons, jsonValue, OUT_OF_DATE } from './buttons.js';

/** A health report's buttons: Re-run, and Details of one finding (posted in the report's thread). */
export function register(buttons: Buttons, deps: ListenerDeps): void {
  buttons.on(ACTIONS.healthRerun, jsonValue(z.object({ target: z.string().min(1).max(200) })), {
    act: async ({ value, user, channel, clickId }) => {
      // A report of a target since removed (or a forged value): refused before anything is
      // recorded, as `/runbook health <name>` is.
      let target: string;
      try {
        target = deps.targets.resolve(value.target).name;
      } catch (err) {
        if (err instanceof UserError) return { text: err.message };
        throw err;
      }
      return answerReply(
        await deps.healthRuns.start({
          target,
          requestedBy: user,
          channelId: channel,
          idempotencyKey: `rerun:${user}:${clickId}`,
        }),
      );
    },
  });

  buttons.on(
    ACTIONS.healthDetails,
    jsonValue(z.object({ runId: z.uuid(), check: z.string().min(1).max(64) })),
    {
      act: async ({ value, channel, messageTs }) => {
        if (!messageTs) return { text: OUT_OF_DATE };
        try {
          // One detail post per finding while the job exists, however often the button is clicked.
          await deps.queues.enqueue({
            name: JOBS.findingDetail,
            data: { ...value, channel, threadTs: messageTs },
          });
          return undefined;
        } catch (err) {
          deps.logger.warn({ err }, 'could not enqueue finding details');
          return { text: 'The job queue is unavailable right now; press Details again in a minute.' };
        }
      },
    },
  );
}
