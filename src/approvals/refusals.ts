import { type Refusal, refusal } from '../answer.js';
import { mirrorOf } from '../audit/outbox.js';
import type { ActionRequest } from '../store/actionRequests.js';
import type { ProcedureRun } from '../store/procedureRuns.js';
import type { RefusalInput } from '../store/refusalRepeats.js';
import { mirrorQuietly } from './auditedChange.js';
import type { EffectivePolicy, MayAct } from './policy.js';
import { type ApprovalDeps, type LoadedRequest, loadRequest, requestPolicy } from './requestContext.js';

/**
 * Repeats of the same refusal (same request, person and reason) within this long of the
 * last one audited are counted, then audited as one event with their count.
 */
export const REFUSAL_REPEAT_WINDOW_MS = 5 * 60_000;

/**
 * Every refused click is audited: who tried what, and why it was refused. Repeats of one
 * refusal are counted and audited together (see RefusalRepeatStore).
 */
export async function refuseClick(
  deps: ApprovalDeps,
  request: ActionRequest,
  run: ProcedureRun,
  user: string,
  reason: string,
): Promise<Refusal> {
  await recordRefusal(deps, {
    requestId: request.id,
    actor: user,
    reason,
    target: request.target,
    runId: run.id,
    mirror: mirrorOf(run),
  });
  return refusal(reason);
}

/**
 * A click on a request, let through when the request exists and the policy lets `user` do
 * what `may` asks; otherwise the audited refusal to answer with.
 */
export async function admitClick(
  deps: ApprovalDeps,
  requestId: string,
  user: string,
  may: MayAct,
): Promise<(LoadedRequest & { policy: EffectivePolicy }) | Refusal> {
  const loaded = await loadRequest(deps, requestId);
  if (!loaded.ok) return refuseUnknown(deps, requestId, user, loaded.reason);
  const policy = requestPolicy(deps, loaded.request, loaded.run);
  const notAllowed = await may(policy, loaded.request, user, deps.members);
  if (notAllowed) return refuseClick(deps, loaded.request, loaded.run, user, notAllowed);
  return { ...loaded, policy };
}

/** A click on a request that does not exist (any more): audited, with nothing to mirror to. */
async function refuseUnknown(
  deps: ApprovalDeps,
  requestId: string,
  user: string,
  reason: string,
): Promise<Refusal> {
  await recordRefusal(deps, { requestId, actor: user, reason });
  return refusal(reason);
}

/** A click refused before the approval rules (ALLOWED_USERS, ALLOWED_CHANNELS): audited the same way. */
export async function refusedAccess(
  deps: ApprovalDeps,
  requestId: string,
  user: string,
  reason: string,
): Promise<void> {
  const loaded = await loadRequest(deps, requestId);
  if (!loaded.ok) await refuseUnknown(deps, requestId, user, reason);
  else await refuseClick(deps, loaded.request, loaded.run, user, reason);
}

async function recordRefusal(deps: ApprovalDeps, input: RefusalInput): Promise<void> {
  const event = await deps.refusals.record(input, REFUSAL_REPEAT_WINDOW_MS, deps.audit);
  if (event?.mirror) await mirrorQuietly(deps.queues, { ...event, mirror: event.mirror });
}

/**
 * Audits the repeats of refusals quiet for `quietMs` (the recovery sweep's part); answers
 * how many events were appended.
 */
export async function flushRefusals(deps: ApprovalDeps, quietMs = REFUSAL_REPEAT_WINDOW_MS): Promise<number> {
  const events = await deps.refusals.flush(quietMs, deps.audit);
  for (const event of events)
    if (event.mirror) await mirrorQuietly(deps.queues, { ...event, mirror: event.mirror });
  return events.length;
}
