import type { WebClient } from '@slack/web-api';
import { UnrecoverableError } from 'bullmq';
import { requestCardBlocks, requestCardText } from '../slack/views/requestCard.js';
import type { ActionRequestStore } from '../store/actionRequests.js';
import type { ProcedureRunStore } from '../store/procedureRuns.js';
import { beginPost, type PostOnceDeps, sendPost } from './postOnce.js';

export interface RequestCardDeps extends PostOnceDeps {
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  slack: WebClient;
}

/** Posts an action request's card in its run's thread the first time, and updates it after. */
export async function postRequestCard(deps: RequestCardDeps, requestId: string): Promise<void> {
  // Recorded before cardUpdate takes the request's row lock: inside it, this would need a
  // second connection while the lock is held. Updates record it too (cheap, and harmless).
  const attempt = await beginPost(deps.db, `request-card:${requestId}`);
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
    // No `db`: the card's own record (in this transaction) is where the ts is kept.
    const ts = await sendPost({ slack: deps.slack, logger: deps.logger }, attempt, {
      channel: run.channelId,
      ...(run.rootTs ? { threadTs: run.rootTs } : {}),
      ...message,
    });
    await recordCard(run.channelId, ts);
  });
}
