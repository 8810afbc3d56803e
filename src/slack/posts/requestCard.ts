import { randomUUID } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { ActionRequestStore } from '../../store/actionRequests.js';
import type { ProcedureRunStore } from '../../store/procedureRuns.js';
import { requestCardBlocks, requestCardText } from '../views/requestCard.js';
import { SLACK_REQUEST_TIMEOUT_MS } from '../webClientOptions.js';
import { type PostOnceDeps, postOnce } from './postOnce.js';

export interface RequestCardDeps extends PostOnceDeps {
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  slack: WebClient;
}

/** Longer than one render with its Slack call and that call's retries take. */
const CARD_LEASE_SECONDS = Math.ceil((SLACK_REQUEST_TIMEOUT_MS * 4) / 1000);

/**
 * Posts an action request's card in its run's thread the first time, and updates it after.
 * Two card jobs of one request take turns through a lease, not a lock: nothing holds a row or
 * a connection while Slack answers. A job that finds the card being rendered leaves it to the
 * holder, which renders again before it lets go, so the card ends on the newest state.
 * `holder` is the job's id, so a job retried after its worker died takes its lease back.
 */
export async function postRequestCard(
  deps: RequestCardDeps,
  requestId: string,
  holder: string = randomUUID(),
): Promise<void> {
  const taken = await deps.requests.takeCard(requestId, holder, CARD_LEASE_SECONDS);
  // Gone (nothing to show), or being rendered by another job that will show this change too.
  if (taken !== 'taken') return;
  try {
    do await renderCard(deps, requestId);
    while (!(await deps.requests.releaseCard(requestId, holder, CARD_LEASE_SECONDS)));
  } catch (err) {
    await deps.requests.dropCard(requestId, holder).catch(() => undefined);
    throw err;
  }
}

async function renderCard(deps: RequestCardDeps, requestId: string): Promise<void> {
  const request = await deps.requests.get(requestId);
  if (!request) throw new JobCannotSucceed(`request ${requestId} does not exist`);
  const run = await deps.procedureRuns.get(request.runId);
  const position = run?.procedure.steps.findIndex((step) => step.id === request.stepId) ?? -1;
  const step = run?.procedure.steps[position];
  if (!run?.channelId || step?.kind !== 'action')
    throw new JobCannotSucceed(`request ${requestId} has no card to post`);
  const message = {
    text: requestCardText(request, step),
    blocks: requestCardBlocks(request, step, position + 1),
  };
  if (request.cardTs && request.cardChannel) {
    await deps.slack.chat.update({ channel: request.cardChannel, ts: request.cardTs, ...message });
    return;
  }
  // The first post goes through postOnce: should recording its ts fail after Slack took it,
  // the retry finds the card in the thread instead of posting a second one.
  const ts = await postOnce(deps, {
    key: `request-card:${requestId}`,
    channel: run.channelId,
    ...(run.rootTs ? { threadTs: run.rootTs } : {}),
    ...message,
  });
  await deps.requests.recordCard(requestId, run.channelId, ts);
}
