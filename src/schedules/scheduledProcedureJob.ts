import type { AuditLog } from '../audit/auditLog.js';
import { JOBS, type JobPayload } from '../jobs/catalog.js';
import type { JobRun } from '../jobs/processors.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { relatedHealthChecks } from '../runbooks/relatedHealthChecks.js';
import type { RunbookLibrary } from '../runbooks/runbookLibrary.js';
import type { ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import { SCHEDULER_REQUESTER } from '../store/runs.js';
import { ScheduledProcedureStore } from '../store/scheduledProcedures.js';
import type { TargetRegistry } from '../targets/registry.js';
import {
  decideScheduledProcedure,
  fingerprint,
  type ProcedureFingerprints,
  type ScheduledProcedureDecision,
} from './scheduledProcedureDecision.js';

export interface ScheduledProcedureDeps {
  procedureRuns: ProcedureRunStore;
  /** Where the run's start is recorded, as `/runbook run` records a person's. */
  audit: Pick<AuditLog, 'append'>;
  runbooks: Pick<RunbookLibrary, 'resolveProcedure' | 'list' | 'procedures'>;
  targets: TargetRegistry;
  queues: QueueBackend;
  logger: Logger;
}

export type ScheduledProcedureOutcome = { started: true; runId: string } | { started: false; reason: string };

/**
 * Processes one fire of a procedure schedule: records a procedure run of the procedure as
 * the library has it now (requested by the scheduler, in the schedule's channel) and queues
 * it on the procedure-run job like `/runbook run` does, naming the schedule so the job posts
 * it only when its results changed (see scheduledRunPosted), and audits its start as a
 * `command` of the scheduler naming the schedule. A retried fire finds the run
 * it already recorded (the fire's job id is its idempotency key) and queues nothing twice.
 */
export function scheduledProcedureProcessor(deps: ScheduledProcedureDeps) {
  return async (
    { schedule, procedure, target: targetName, channel }: JobPayload<typeof JOBS.scheduledProcedure>,
    job: JobRun,
  ): Promise<ScheduledProcedureOutcome> => {
    let ref: ReturnType<RunbookLibrary['resolveProcedure']>;
    let target: ReturnType<TargetRegistry['resolve']>;
    try {
      target = deps.targets.resolve(targetName);
      ref = deps.runbooks.resolveProcedure(procedure);
    } catch (err) {
      // Removed from configuration or from the runbooks: the next start-up's sync removes the scheduler.
      deps.logger.warn({ err, schedule }, 'scheduled procedure skipped: its target or procedure is gone');
      return { started: false, reason: (err as Error).message };
    }
    const { run, created } = await deps.procedureRuns.create({
      runbook: ref.runbook,
      procedure: ref.procedure,
      target: target.name,
      requestedBy: SCHEDULER_REQUESTER,
      channelId: channel,
      params: {},
      idempotencyKey: `${schedule}@${job.id ?? `${Date.now()}`}`,
      relatedChecks: relatedHealthChecks(ref.procedure.id, deps.runbooks),
    });
    // Who started it, as for `/runbook run`: the scheduler, on behalf of the named schedule.
    // A retried fire finds its run and its event already there.
    if (created)
      await deps.audit.append({
        kind: 'command',
        actor: SCHEDULER_REQUESTER,
        target: target.name,
        runId: run.id,
        data: { command: `/runbook run ${ref.procedure.id} ${target.name}`, params: {}, schedule },
      });
    // The job id (the run id) makes a second enqueue of the same run a no-op.
    await deps.queues.enqueue({ name: JOBS.procedureRun, data: { runId: run.id, schedule } });
    if (!created) deps.logger.info({ schedule, runId: run.id }, 'scheduled procedure fire retried');
    return { started: true, runId: run.id };
  };
}

/** The fingerprints of a finished run's checks, by step id. */
export async function runFingerprints(
  procedureRuns: ProcedureRunStore,
  runId: string,
): Promise<ProcedureFingerprints> {
  const steps = await procedureRuns.steps(runId);
  return Object.fromEntries(
    steps.filter((step) => step.kind === 'check').map((step) => [step.stepId, fingerprint(step.result)]),
  );
}

/**
 * For the procedure-run job: whether a run a schedule started is posted. Compares its check
 * results with the schedule's previous run and stores them; a retry of the same run gets the
 * same answer.
 */
export function scheduledRunPosted(
  store: ScheduledProcedureStore,
  procedureRuns: ProcedureRunStore,
  logger: Logger,
): (run: ProcedureRun, schedule: string) => Promise<boolean> {
  return async (run, schedule) => {
    const current = await runFingerprints(procedureRuns, run.id);
    const decision: ScheduledProcedureDecision = await store.record(schedule, run.id, current, (previous) =>
      decideScheduledProcedure(previous, current),
    );
    logger.info({ schedule, runId: run.id, decision }, 'scheduled procedure run compared');
    return decision.post;
  };
}

export { ScheduledProcedureStore };
