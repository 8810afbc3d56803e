import { type Answer, done, type Refusal, refusal } from '../answer.js';
import type { AuditEvent, AuditEventInput, AuditLog } from '../audit/auditLog.js';
import { appendMirrored, enqueueAuditMirror } from '../jobs/auditMirror.js';
import { JOBS, POST_JOB_OPTIONS, QUEUES, RETENTION } from '../jobs/payloads.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { ActionRequest, ActionRequestStore, InTransaction } from '../store/actionRequests.js';
import type { ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import type { RefusalInput, RefusalRepeatStore } from '../store/refusalRepeats.js';
import type { TargetRegistry } from '../targets/registry.js';
import { utcMinute } from '../time.js';
import {
  type EffectivePolicy,
  effectivePolicy,
  type GroupMembers,
  isAllowed,
  type PolicyFile,
  selfApprovalRefusal,
} from './policy.js';
import { REQUEST_GONE } from './requestStateMachine.js';

export interface ApprovalDeps {
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  policy: PolicyFile;
  members: GroupMembers;
  audit: AuditLog;
  queues: QueueBackend;
  /** Where repeats of one refusal are counted before they reach the audit log. */
  refusals: RefusalRepeatStore;
}

/**
 * Repeats of the same refusal (same request, person and reason) within this long of the
 * last one audited are counted, then audited as one event with their count.
 */
export const REFUSAL_REPEAT_WINDOW_MS = 5 * 60_000;

/**
 * The approval rules applied to clicks: who may ask, who may approve, how many must, and
 * for how long. Every refusal comes back as a sentence for the person who clicked; every
 * state change is audited in the same transaction and mirrored to the run's thread.
 */
export class ApprovalService {
  constructor(private readonly deps: ApprovalDeps) {}

  async policyFor(request: ActionRequest, run: ProcedureRun): Promise<EffectivePolicy> {
    const target = this.deps.targets.list().find((candidate) => candidate.name === request.target);
    return effectivePolicy(this.deps.policy, {
      runbook: run.runbookId,
      target: request.target,
      targetTags: target?.tags ?? [],
      risk: request.risk,
    });
  }

  async requestApproval(requestId: string, user: string): Promise<Answer> {
    const loaded = await this.load(requestId);
    if (!loaded.ok) return this.refuseUnknown(requestId, user, loaded.reason);
    const { request, run } = loaded;
    const policy = await this.policyFor(request, run);
    if (!(await isAllowed(policy.requesters, user, this.deps.members)))
      return this.refuse(
        request,
        run,
        user,
        'You are not allowed to request this action (see the approval policy).',
      );
    const result = await this.audited(
      run,
      user,
      'approval_requested',
      (updated) => ({
        planHash: updated.planHash,
        requiredApprovals: updated.requiredApprovals,
        expiresAt: updated.expiresAt?.toISOString(),
      }),
      (audit) =>
        this.deps.requests.requestApproval(requestId, user, policy.approvals, policy.expiryMs, audit),
    );
    if (!result.ok) {
      const refused = await this.refuse(request, run, user, result.reason);
      // Pending already: its card and expiry job may never have been queued (the queue failed
      // right after the request committed); queueing them again is harmless.
      if (request.status === 'pending' && !(await this.queuePending(request)))
        return refusal(`${result.reason} ${cardWaits(request)}`);
      return refused;
    }
    // Requested, whatever the queue does now; with it down, the card cannot show Approve
    // yet, and the requester is told so rather than "that did not go through".
    if (!(await this.queuePending(result.request)))
      return done(`Approval requested. ${cardWaits(result.request)}`);
    return done();
  }

  /**
   * The card (now with Approve) and the expiry, which survives restarts as a delayed job and
   * does nothing if the request moved on. False when the queue is unavailable.
   */
  private async queuePending(request: ActionRequest): Promise<boolean> {
    try {
      await this.refreshCard(request.id);
      // Counted on this clock; an expiry job that comes early by the database's comes back.
      const dueInMs = Math.max(0, (request.expiresAt?.getTime() ?? Date.now()) - Date.now());
      await this.deps.queues
        .queue(QUEUES.remediation)
        .add(
          JOBS.approvalExpiry,
          { requestId: request.id },
          { jobId: `expiry-${request.id}`, delay: dueInMs + 500, ...RETENTION },
        );
      return true;
    } catch {
      return false;
    }
  }

  async approve(requestId: string, user: string): Promise<Answer> {
    const loaded = await this.load(requestId);
    if (!loaded.ok) return this.refuseUnknown(requestId, user, loaded.reason);
    const { request, run } = loaded;
    const policy = await this.policyFor(request, run);
    if (!(await isAllowed(policy.approvers, user, this.deps.members)))
      return this.refuse(request, run, user, 'You are not on the list of approvers for this action.');
    const ownPlan = selfApprovalRefusal(policy, request, user);
    if (ownPlan) return this.refuse(request, run, user, ownPlan);
    const result = await this.audited(
      run,
      user,
      'approved',
      (updated) => ({
        planHash: updated.planHash,
        approvals: updated.approvers.length,
        required: updated.requiredApprovals,
      }),
      (audit) => this.deps.requests.approve(requestId, user, policy.executionWindowMs, audit),
    );
    if (!result.ok) {
      // Approved, but its execution job may never have been queued (the queue failed right
      // after the approval committed): queueing again is harmless, the job id is unique.
      const refused = await this.refuse(request, run, user, result.reason);
      if (result.request?.status === 'approved' && !(await this.queueExecution(requestId)))
        return refusal(`${result.reason} ${queueDown(result.request)}`);
      return refused;
    }
    if (result.request.status !== 'approved') {
      // Recorded whatever the queue says; the card catches up with the next change.
      await this.refreshCard(requestId).catch(() => undefined);
      return done(
        `Approval recorded (${result.request.approvers.length} of ${result.request.requiredApprovals}).`,
      );
    }
    // The approval is committed, whatever the queue does now. With the queue down, the
    // approver is told so and nothing is asked of them: pressing Approve again would only
    // be refused as "already approved". The recovery sweep queues the execution once the
    // queue is back (the job id is the request id, so never twice), or lapses the request
    // when its window has passed first; the card follows either way.
    if (!(await this.queueExecution(requestId)))
      return done(`Approval recorded. ${queueDown(result.request)}`);
    await this.refreshCard(requestId).catch(() => undefined);
    return done('Approved: executing now.');
  }

  /**
   * The job id is the request id: however many approvals race, one execution job exists.
   * False when the queue is unavailable.
   */
  private async queueExecution(requestId: string): Promise<boolean> {
    try {
      await this.deps.queues.queue(QUEUES.remediation).add(...executionJob(requestId));
      return true;
    } catch {
      return false;
    }
  }

  async reject(requestId: string, user: string): Promise<Answer> {
    const loaded = await this.load(requestId);
    if (!loaded.ok) return this.refuseUnknown(requestId, user, loaded.reason);
    const { request, run } = loaded;
    const policy = await this.policyFor(request, run);
    const allowed =
      request.requestedBy === user ||
      request.previewedBy === user ||
      (await isAllowed(policy.approvers, user, this.deps.members));
    if (!allowed)
      return this.refuse(request, run, user, 'Only an approver or the requester can reject this.');
    const result = await this.audited(
      run,
      user,
      'rejected',
      () => ({}),
      (audit) => this.deps.requests.reject(requestId, audit),
    );
    if (!result.ok) return this.refuse(request, run, user, result.reason);
    // Rejected whatever the queue does now: the card catches up with the next change.
    await this.refreshCard(requestId).catch(() => undefined);
    return done();
  }

  /** Queues a re-render of the request's card (posted the first time, updated after). */
  async refreshCard(requestId: string): Promise<void> {
    await this.deps.queues.queue(QUEUES.notifications).add(
      JOBS.requestCard,
      { requestId },
      // A fresh job per change: the card job renders whatever the state is when it runs.
      POST_JOB_OPTIONS,
    );
  }

  private async load(
    requestId: string,
  ): Promise<{ ok: true; request: ActionRequest; run: ProcedureRun } | Refusal> {
    const request = await this.deps.requests.get(requestId);
    const run = request && (await this.deps.procedureRuns.get(request.runId));
    if (!request || !run) return refusal(REQUEST_GONE);
    return { ok: true, request, run };
  }

  /**
   * Every refusal is audited: who tried what, and why it was refused. Repeats of one
   * refusal are counted and audited together (see RefusalRepeatStore).
   */
  private async refuse(
    request: ActionRequest,
    run: ProcedureRun,
    user: string,
    message: string,
  ): Promise<Answer> {
    await this.recordRefusal({
      requestId: request.id,
      actor: user,
      reason: message,
      target: request.target,
      runId: run.id,
      mirror: mirrorOf(run),
    });
    return refusal(message);
  }

  /** A click refused before the rules here (ALLOWED_USERS, ALLOWED_CHANNELS): audited the same way. */
  async refusedAccess(requestId: string, user: string, reason: string): Promise<void> {
    const loaded = await this.load(requestId);
    if (!loaded.ok) await this.refuseUnknown(requestId, user, reason);
    else await this.refuse(loaded.request, loaded.run, user, reason);
  }

  /** A click on a request that does not exist (any more): audited, with nothing to mirror to. */
  private async refuseUnknown(requestId: string, user: string, message: string): Promise<Answer> {
    await this.recordRefusal({ requestId, actor: user, reason: message });
    return refusal(message);
  }

  private async recordRefusal(refusal: RefusalInput): Promise<void> {
    const event = await this.deps.refusals.record(refusal, REFUSAL_REPEAT_WINDOW_MS, this.deps.audit);
    if (event?.mirror) await mirrorQuietly(this.deps.queues, { ...event, mirror: event.mirror });
  }

  /**
   * Audits the repeats of refusals quiet for `quietMs` (the recovery sweep's part); answers
   * how many events were appended.
   */
  async flushRefusals(quietMs = REFUSAL_REPEAT_WINDOW_MS): Promise<number> {
    const events = await this.deps.refusals.flush(quietMs, this.deps.audit);
    for (const event of events)
      if (event.mirror) await mirrorQuietly(this.deps.queues, { ...event, mirror: event.mirror });
    return events.length;
  }

  /**
   * approved → lapsed once its execution window has passed without a worker starting it
   * (the execution job came late or never); the card says so, without buttons.
   */
  async lapse(requestId: string): Promise<boolean> {
    const loaded = await this.load(requestId);
    if (!loaded.ok) return false;
    const result = await this.audited(
      loaded.run,
      'runbook-bot',
      'lapsed',
      (updated) => ({
        planHash: updated.planHash,
        approvedAt: updated.approvedAt?.toISOString(),
        executeBy: updated.executeBy?.toISOString(),
      }),
      (audit) => this.deps.requests.lapse(requestId, audit),
    );
    if (!result.ok) return false;
    // The sweep goes on with its other requests when the queue cannot take the card now.
    await this.refreshCard(requestId).catch(() => undefined);
    return true;
  }

  /** pending → expired for a request whose expiry job was lost (the recovery sweep's part). */
  async expireOverdue(requestId: string): Promise<boolean> {
    const loaded = await this.load(requestId);
    if (!loaded.ok) return false;
    const result = await this.audited(
      loaded.run,
      'runbook-bot',
      'expired',
      () => ({}),
      (audit) => this.deps.requests.expire(requestId, audit),
    );
    if (!result.ok) return false;
    // The sweep goes on with its other requests when the queue cannot take the card now.
    await this.refreshCard(requestId).catch(() => undefined);
    return true;
  }

  private audited<T>(
    run: ProcedureRun,
    actor: string,
    kind: AuditEventInput['kind'],
    data: (request: ActionRequest) => Record<string, unknown>,
    change: (audit: InTransaction) => Promise<T>,
  ): Promise<T> {
    return auditedChange(this.deps, run, actor, kind, data, change);
  }
}

/**
 * Runs a state change with its audit event appended in the same transaction, then queues
 * the event's mirror to the run's thread once the change has committed.
 */
export async function auditedChange<T>(
  deps: { audit: AuditLog; queues: QueueBackend },
  run: ProcedureRun,
  actor: string,
  kind: AuditEventInput['kind'],
  data: (request: ActionRequest) => Record<string, unknown>,
  change: (audit: InTransaction) => Promise<T>,
): Promise<T> {
  const appended: AuditEvent[] = [];
  const mirror = mirrorOf(run);
  const result = await change(async (client, request) => {
    appended.push(
      await deps.audit.append(
        {
          kind,
          actor,
          target: request.target,
          runId: run.id,
          requestId: request.id,
          data: data(request),
          mirror,
        },
        client,
      ),
    );
  });
  if (mirror) for (const event of appended) await mirrorQuietly(deps.queues, { ...event, mirror });
  return result;
}

/**
 * Queues an event's mirror; a queue that is down does not undo or hide the committed change
 * it records: the event waits in the outbox, and the thread's next mirror job posts it (a
 * mirror job posts every unposted event of its thread up to its own).
 */
async function mirrorQuietly(
  queues: QueueBackend,
  event: AuditEvent & { mirror: { channel: string; threadTs?: string } },
): Promise<void> {
  await enqueueAuditMirror(queues, event).catch(() => undefined);
}

/** The execution job of a request: its id is the request's, so it is queued once however often it is added. */
export function executionJob(requestId: string) {
  return [JOBS.executeAction, { requestId }, { jobId: requestId, attempts: 1, ...RETENTION }] as const;
}

/** What a requester is told when the request is recorded but its card could not be queued. */
function cardWaits(request: ActionRequest): string {
  const at = request.expiresAt ? ` (it expires at ${utcMinute(request.expiresAt)} either way)` : '';
  return (
    'The job queue is unavailable right now, so the card does not show Approve yet: ' +
    `press Request approval again once the queue is back${at}.`
  );
}

/** What an approver is told when the approval is recorded but its execution could not be queued. */
function queueDown(request: ActionRequest): string {
  const by = request.executeBy ? ` before ${utcMinute(request.executeBy)}` : '';
  return (
    `The job queue is unavailable right now, so it has not started: it runs once, when the queue is back${by} ` +
    '(its execution window); after that it lapses and nothing runs.'
  );
}

/** The run's root message thread, where its audit trail is mirrored. */
function mirrorOf(run: ProcedureRun): AuditEventInput['mirror'] {
  return run.channelId ? { channel: run.channelId, threadTs: run.rootTs ?? undefined } : undefined;
}

/** Appends an audit event on its own and queues its mirror. */
export async function appendAudited(
  deps: { audit: AuditLog; queues: QueueBackend },
  run: ProcedureRun,
  event: Omit<AuditEventInput, 'mirror'>,
): Promise<void> {
  await appendMirrored(deps, { ...event, mirror: mirrorOf(run) });
}
