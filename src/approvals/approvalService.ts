import type { AuditEvent, AuditEventInput, AuditLog } from '../audit/auditLog.js';
import { appendMirrored, enqueueAuditMirror } from '../jobs/auditMirror.js';
import { JOBS, POST_JOB_OPTIONS, QUEUES, RETENTION } from '../jobs/payloads.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { ActionRequest, ActionRequestStore, InTransaction } from '../store/actionRequests.js';
import type { ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import type { TargetRegistry } from '../targets/registry.js';
import {
  type EffectivePolicy,
  effectivePolicy,
  type GroupMembers,
  isAllowed,
  type PolicyFile,
  selfApprovalRefusal,
} from './policy.js';

export interface ApprovalDeps {
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  policy: PolicyFile;
  members: GroupMembers;
  audit: AuditLog;
  queues: QueueBackend;
}

export type Decision = { ok: true; message?: string } | { ok: false; message: string };

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

  async requestApproval(requestId: string, user: string): Promise<Decision> {
    const loaded = await this.load(requestId);
    if ('message' in loaded) return { ok: false, message: loaded.message };
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
    if ('refused' in result) return { ok: false, message: result.refused };
    await this.refreshCard(requestId);
    // The expiry survives restarts as a delayed job; it does nothing if the request moved on.
    await this.deps.queues
      .queue(QUEUES.remediation)
      .add(
        JOBS.approvalExpiry,
        { requestId },
        { jobId: `expiry-${requestId}`, delay: policy.expiryMs + 500, ...RETENTION },
      );
    return { ok: true };
  }

  async approve(requestId: string, user: string): Promise<Decision> {
    const loaded = await this.load(requestId);
    if ('message' in loaded) return { ok: false, message: loaded.message };
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
    if (result.kind === 'refused') {
      // Approved, but its execution job may never have been queued (the queue failed right
      // after the approval committed): queueing again is harmless, the job id is unique.
      if (result.request?.status === 'approved') await this.queueExecution(requestId);
      return { ok: false, message: result.reason };
    }
    // Queued before the card says "executing": should queueing fail, the card still offers
    // Approve, and pressing it again queues the job (the refused branch above).
    if (result.kind === 'approved') await this.queueExecution(requestId);
    await this.refreshCard(requestId);
    if (result.kind === 'approved') return { ok: true, message: 'Approved: executing now.' };
    return {
      ok: true,
      message: `Approval recorded (${result.request.approvers.length} of ${result.request.requiredApprovals}).`,
    };
  }

  /** The job id is the request id: however many approvals race, one execution job exists. */
  private async queueExecution(requestId: string): Promise<void> {
    await this.deps.queues
      .queue(QUEUES.remediation)
      .add(JOBS.executeAction, { requestId }, { jobId: requestId, attempts: 1, ...RETENTION });
  }

  async reject(requestId: string, user: string): Promise<Decision> {
    const loaded = await this.load(requestId);
    if ('message' in loaded) return { ok: false, message: loaded.message };
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
    if ('refused' in result) return { ok: false, message: result.refused };
    await this.refreshCard(requestId);
    return { ok: true };
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
  ): Promise<{ request: ActionRequest; run: ProcedureRun } | { message: string }> {
    const request = await this.deps.requests.get(requestId);
    const run = request && (await this.deps.procedureRuns.get(request.runId));
    if (!request || !run) return { message: 'That request no longer exists.' };
    return { request, run };
  }

  /** A refusal is audited too: who tried what, and why it was refused. */
  private async refuse(
    request: ActionRequest,
    run: ProcedureRun,
    user: string,
    message: string,
  ): Promise<Decision> {
    await appendAudited(this.deps, run, {
      kind: 'refused',
      actor: user,
      target: request.target,
      runId: run.id,
      requestId: request.id,
      data: { reason: message },
    });
    return { ok: false, message };
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
  if (mirror) for (const event of appended) await enqueueAuditMirror(deps.queues, { ...event, mirror });
  return result;
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
