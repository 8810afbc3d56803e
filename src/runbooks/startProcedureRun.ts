import { type Done, done, type Refusal, refusal } from '../answer.js';
import type { AuditLog } from '../audit/auditLog.js';
import { UserError } from '../errors.js';
import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { queuedWithoutWorkerText, type WorkerPresence } from '../service/workerPresence.js';
import type { IncidentStore } from '../store/incidents.js';
import type { ProcedureRunStore } from '../store/procedureRuns.js';
import type { TargetRegistry } from '../targets/registry.js';
import { parameterProblems, type RawValues } from './procedureParams.js';
import { relatedHealthChecks } from './relatedHealthChecks.js';
import type { RunbookLibrary } from './runbookLibrary.js';

export interface StartProcedureRunDeps {
  audit: AuditLog;
  incidentStore: IncidentStore;
  runbooks: RunbookLibrary;
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  queues: QueueBackend;
  logger: Logger;
  /** When given, a run queued while no worker is alive is answered as waiting, not running. */
  workers?: WorkerPresence;
}

/** Who asked, and where. */
export interface Requester {
  userId: string;
  channelId: string;
  /** Names this request among all transports: a retried delivery of it carries the same key. */
  idempotencyKey: string;
}

/** What the person asked to run. */
export interface ProcedureRunRequest {
  procedure: string;
  /** Absent: the only target, or the default one. */
  target?: string;
  values: RawValues;
}

/** The answer, and how it counts in the command metrics. */
export type RunStartAnswer =
  | (Done & { outcome: 'queued' | 'duplicate' })
  | (Refusal & { outcome: 'invalid' | 'unavailable' });

/**
 * Starts a procedure run: validates everything the person can get wrong (procedure, target,
 * parameter names and values) before anything is recorded; then records the run (part of
 * the channel's open incident, if any), audits the command and queues the run's checks.
 * A failure of the state database or the queue leaves nothing half-started.
 */
export async function startProcedureRun(
  deps: StartProcedureRunDeps,
  request: ProcedureRunRequest,
  requester: Requester,
): Promise<RunStartAnswer> {
  let ref: ReturnType<RunbookLibrary['resolveProcedure']>;
  let targetName: string;
  try {
    ref = deps.runbooks.resolveProcedure(request.procedure);
    targetName = deps.targets.resolve(request.target).name;
  } catch (err) {
    if (err instanceof UserError)
      return refusal(err.message, { outcome: 'invalid' as const, suggestions: err.suggestions });
    throw err;
  }
  const problems = parameterProblems(ref.procedure, request.values);
  if (problems.length > 0)
    return refusal(
      `Cannot run \`${ref.procedure.id}\`:\n${problems.map((problem) => `• ${problem}`).join('\n')}`,
      { outcome: 'invalid' as const },
    );
  let created: Awaited<ReturnType<ProcedureRunStore['create']>>;
  try {
    // A run in an incident's channel is part of it: on its timeline, and its first action.
    const incident = await deps.incidentStore.openInChannel(requester.channelId);
    if (incident) await deps.incidentStore.acknowledge(incident.id);
    created = await deps.procedureRuns.create({
      incidentId: incident?.id,
      runbook: ref.runbook,
      procedure: ref.procedure,
      target: targetName,
      requestedBy: requester.userId,
      channelId: requester.channelId,
      params: request.values,
      idempotencyKey: requester.idempotencyKey,
      relatedChecks: relatedHealthChecks(ref.procedure.id, deps.runbooks),
    });
  } catch (err) {
    deps.logger.error({ err }, 'state database unavailable');
    return refusal(
      'The state database is unavailable right now, so nothing was started. Try again in a minute.',
      {
        outcome: 'unavailable' as const,
      },
    );
  }
  const what = `${ref.procedure.title} on ${targetName}`;
  if (!created.created) return done(`Already running ${what}…`, { outcome: 'duplicate' as const });
  // Before the root message exists there is no thread to mirror to: the command is audited only.
  await deps.audit.append({
    kind: 'command',
    actor: requester.userId,
    target: targetName,
    runId: created.run.id,
    data: { command: `/runbook run ${ref.procedure.id} ${targetName}`, params: request.values },
  });
  try {
    await deps.queues.enqueue({ name: JOBS.procedureRun, data: { runId: created.run.id } });
  } catch (err) {
    deps.logger.warn({ err, runId: created.run.id }, 'could not enqueue procedure run');
    await deps.procedureRuns.finish(created.run.id, 'queue unavailable').catch(() => undefined);
    return refusal('The job queue is unavailable right now, so nothing was started. Try again in a minute.', {
      outcome: 'unavailable' as const,
    });
  }
  const workersDown = await deps.workers?.down();
  if (workersDown) return done(queuedWithoutWorkerText(what, workersDown), { outcome: 'queued' as const });
  return done(`Running ${what}…`, { outcome: 'queued' as const });
}
