import type { RunbookThresholdLayer } from '../../health/thresholds.js';
import { JOBS, type JobPayload } from '../../jobs/catalog.js';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { QueueBackend } from '../../jobs/queueBackend.js';
import type { Logger } from '../../logger.js';
import { errorText } from '../../redact.js';
import type { ProcedureRun, ProcedureRunStore } from '../../store/procedureRuns.js';
import { describeConnectionFailure } from '../../targets/connectionErrors.js';
import type { TargetPools } from '../../targets/pools.js';
import type { TargetRegistry } from '../../targets/registry.js';
import type { Target } from '../../targets/target.js';
import { runRelatedHealthChecks } from '../relatedHealthChecks.js';
import { failed, runProcedureChecks } from './procedureChecks.js';

export interface ProcedureJobDeps {
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  pools: TargetPools;
  queues: QueueBackend;
  logger: Logger;
  /** For runs a procedure schedule started: decides whether they are posted (see scheduledProcedureJob.ts). */
  scheduled?: (run: ProcedureRun, schedule: string) => Promise<boolean>;
  /** The target's thresholds from its runbooks' alert tables, for the related health checks. */
  runbookThresholds?: (target: Target) => RunbookThresholdLayer | undefined;
}

/**
 * Runs the checks of one procedure run, in order, and stores each result (a step the target
 * changed from check to action or back is stored as it now is); then queues the post. Checks are read-only, so a retry after a crash runs them again harmlessly. A target
 * that cannot be reached gives every check that reason as its result, not a retry storm.
 * The built-in health checks related to the procedure run after its checks; what they find
 * is stored beside the results and never fails the run.
 */
export function procedureJobProcessor(deps: ProcedureJobDeps) {
  return async ({ runId, schedule }: JobPayload<typeof JOBS.procedureRun>): Promise<void> => {
    const run = await deps.procedureRuns.get(runId);
    if (!run) throw new JobCannotSucceed(`procedure run ${runId} does not exist`);
    if (run.status !== 'done' && run.status !== 'failed') {
      await deps.procedureRuns.markRunning(run.id);
      let target: ReturnType<TargetRegistry['resolve']> | undefined;
      try {
        target = deps.targets.resolve(run.target);
        const found = await runProcedureChecks(
          deps.pools.readOnly(target),
          target,
          run.procedure.steps,
          run.params,
        );
        for (const { step, result, changed } of found) {
          if (changed) await deps.procedureRuns.replaceStep(run.id, step, result);
          else if (result) await deps.procedureRuns.saveCheckResult(run.id, step.id, result);
        }
        if (run.relatedChecks.length > 0)
          await deps.procedureRuns.saveRelatedFindings(
            run.id,
            await runRelatedHealthChecks(target, deps.pools.readOnly(target), run.relatedChecks, {
              logger: deps.logger,
              runbookThresholds: deps.runbookThresholds?.(target),
            }),
          );
        await deps.procedureRuns.finish(run.id);
      } catch (err) {
        // Removed from configuration since the command, or unreachable: a result either way.
        const reason = target
          ? describeConnectionFailure(err, target.url, target.settings.connectTimeoutMs)
          : errorText(err);
        deps.logger.warn({ err, runId: run.id }, 'procedure checks could not run');
        for (const check of run.procedure.steps.filter((step) => step.kind === 'check'))
          await deps.procedureRuns.saveCheckResult(run.id, check.id, failed(reason));
        await deps.procedureRuns.finish(run.id, reason);
      }
    }
    // A scheduled run is posted only when its results changed since the schedule's last run.
    if (schedule && deps.scheduled && !(await deps.scheduled(run, schedule))) return;
    // The job id makes a second enqueue (a retry after a crash right here) a no-op.
    await deps.queues.enqueue({ name: JOBS.procedurePost, data: { runId: run.id } });
  };
}
