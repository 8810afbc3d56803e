import type { WebClient } from '@slack/web-api';
import { UnrecoverableError } from 'bullmq';
import { requestCardBlocks, requestCardText } from '../slack/views/requestCard.js';
import type { ActionRequestStore } from '../store/actionRequests.js';
import type { ProcedureRunStore } from '../store/procedureRuns.js';

export interface RequestCardDeps {
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  slack: WebClient;
}

/** Posts an action request's card in its run's thread the first time, and updates it after. */
export async function postRequestCard(deps: RequestCardDeps, requestId: string): Promise<void> {
  await deps.requests.cardUpdate(requestId, async (request, recordCard) => {
    const run = await deps.procedureRuns.get(request.runId);
    const position = run?.procedure.steps.findIndex((step) => step.id === request.stepId) ?? -1;
    const step = run?.procedure.steps[position];
    if (!run?.channelId || step?.kind !== 'action')
      throw new UnrecoverableError(`request ${requestId} has no card to post`);
    const message = {
      text: requestCardText(request, step),
      blocks: requestCardBlocks(request, step, position + 1),
    };
    if (request.cardTs && request.cardChannel) {
      await deps.slack.chat.update({ channel: request.cardChannel, ts: request.cardTs, ...message });
      return;
    }
    const posted = await deps.slack.chat.postMessage({
      channel: run.channelId,
      thread_ts: run.rootTs ?? undefined,
      ...message,
    });
    await recordCard(run.channelId, posted.ts ?? '');
  });
}
