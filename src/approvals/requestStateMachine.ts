import { type Refusal, refusal } from '../answer.js';

/**
 * The life of an action request, as a pure function: given the request as the database has
 * it now (read under its row lock), an event and the database's clock, the status it moves
 * to, or why it does not, in words for the person who caused the event. No I/O: the store
 * applies the answer (store/actionRequests.ts), guarded by the status it was decided from.
 *
 *   previewed ─request approval→ pending ─approve (enough)→ approved ─start execution→ executing ─finish→ final
 *       │                          │ └─expire (due)→ expired       └─lapse (window passed)→ lapsed
 *       └──────────reject──────────┴→ rejected
 *
 * A previewed plan that is blocked (nothing to do, over a limit) can only be discarded.
 */
export type RequestStatus =
  | 'previewed'
  | 'pending'
  | 'approved'
  | 'rejected'
  | 'expired'
  /** Approved, but its execution window passed before a worker started it: final. */
  | 'lapsed'
  | 'executing'
  | 'succeeded'
  /** It ran (or the re-check found nothing left to do) and changed nothing: final. */
  | 'nothing_done'
  | 'failed'
  | 'aborted'
  | 'changed'
  | 'outcome_unknown';

/** How an execution ended. */
export type FinishedStatus = Extract<
  RequestStatus,
  'succeeded' | 'nothing_done' | 'failed' | 'aborted' | 'changed' | 'outcome_unknown'
>;

/** What the decision needs to know of a request. */
export interface RequestFacts {
  status: RequestStatus;
  /** Until when approvals count (set when approval is requested). */
  expiresAt: Date | null;
  /** Until when an approved request may start (set when it is approved). */
  executeBy: Date | null;
  /** Who has approved it so far. */
  approvers: readonly string[];
  requiredApprovals: number;
  /** Why its plan offers no approval (nothing to do, over a limit); absent or null when it does. */
  blocked?: string | null;
}

export type RequestEvent =
  | { kind: 'requestApproval' }
  /** One approval by `approver`; the request is approved once enough are in. */
  | { kind: 'approve'; approver: string }
  | { kind: 'reject' }
  /** Its approval time is up (the expiry job). */
  | { kind: 'expire' }
  /** Its execution window passed without a start (the execution job came late, or never). */
  | { kind: 'lapse' }
  | { kind: 'startExecution' }
  | { kind: 'finishExecution'; status: FinishedStatus };

export interface RequestRefusal extends Refusal {
  /** Not due yet by the database's clock (expire, lapse): how long until it is. */
  dueInMs?: number;
  /** Approved, but its execution window has passed: it is to be lapsed, not executed. */
  windowPassed?: true;
}

export type Transition = { ok: true; from: RequestStatus; to: RequestStatus } | RequestRefusal;

/** The statuses each event may leave from; from any other, the event is refused. */
const LEAVES_FROM: Readonly<Record<RequestEvent['kind'], readonly RequestStatus[]>> = {
  requestApproval: ['previewed'],
  approve: ['pending'],
  reject: ['previewed', 'pending'],
  expire: ['pending'],
  lapse: ['approved'],
  startExecution: ['approved'],
  finishExecution: ['executing'],
};

export const REQUEST_GONE = 'That request no longer exists.';
export const ALREADY_APPROVED = 'You have already approved this request.';

/**
 * The decision for `event` on `request` (undefined: no such request) at `now`, the
 * database's clock in milliseconds: the deadlines were set by that clock, so they are
 * compared with it.
 */
export function decideTransition(
  request: RequestFacts | undefined,
  event: RequestEvent,
  now: number,
): Transition {
  if (!request) return refusal(REQUEST_GONE);
  const from = request.status;
  if (!LEAVES_FROM[event.kind].includes(from)) return refusal(statusReason(from));
  const to = (status: RequestStatus): Transition => ({ ok: true, from, to: status });
  switch (event.kind) {
    case 'requestApproval':
      if (request.blocked) return refusal(`This plan cannot be approved: ${request.blocked}.`);
      return to('pending');
    case 'approve':
      if (request.expiresAt && request.expiresAt.getTime() <= now)
        return refusal('This request has expired; preview the action again.');
      if (request.approvers.includes(event.approver)) return refusal(ALREADY_APPROVED);
      return to(request.approvers.length + 1 >= request.requiredApprovals ? 'approved' : 'pending');
    case 'reject':
      return to('rejected');
    // The expiry job may run early after a restart, or by a clock that runs ahead.
    case 'expire':
      return untilDue(request.expiresAt, now) ?? to('expired');
    case 'lapse':
      return untilDue(request.executeBy, now) ?? to('lapsed');
    case 'startExecution':
      if (request.executeBy && request.executeBy.getTime() <= now)
        return refusal('The execution window after approval has passed; preview the action again.', {
          windowPassed: true as const,
        });
      return to('executing');
    case 'finishExecution':
      return to(event.status);
  }
}

/** A refusal while `deadline` is still ahead (or unset: then never due). */
function untilDue(deadline: Date | null, now: number): RequestRefusal | undefined {
  const dueInMs = deadline ? deadline.getTime() - now : Number.POSITIVE_INFINITY;
  return dueInMs > 0 ? refusal('Its time is not up yet.', { dueInMs }) : undefined;
}

/** Why a click on a request in this status does nothing, in words for the person who clicked. */
function statusReason(status: RequestStatus): string {
  switch (status) {
    case 'previewed':
      return 'Approval has not been requested for this action yet.';
    case 'pending':
      return 'This request is waiting for approval.';
    // Approved is not yet executing: with the workers or the queue down it waits (and lapses
    // when its window passes), and saying "executing" then would be untrue.
    case 'approved':
      return 'This request is already approved; it runs as soon as a worker takes it.';
    case 'executing':
      return 'This request is already approved and executing.';
    case 'rejected':
      return 'This request was rejected.';
    case 'expired':
      return 'This request has expired; preview the action again.';
    case 'lapsed':
      return 'This request was approved, but its execution window passed before it could run; preview the action again.';
    default:
      return `This request has already run (${status.replace('_', ' ')}).`;
  }
}
