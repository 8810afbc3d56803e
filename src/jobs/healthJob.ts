import { type Job, UnrecoverableError } from 'bullmq';
import { Coalescer } from '../concurrency/coalescer.js';
import type { Logger } from '../logger.js';
import { runHealthCheck } from '../runbooks/health/engine.js';
import type { HealthReport } from '../runbooks/health/types.js';
import type { RunStore } from '../store/runs.js';
import type { TargetPools } from '../targets/pools.js';
import type { TargetRegistry } from '../targets/registry.js';
import { healthJobSchema, JOBS, QUEUES, RETENTION } from './payloads.js';
import type { QueueBackend } from './queueBackend.js';

export interface HealthJobDeps {
  runs: RunStore;
  targets: TargetRegistry;
  pools: TargetPools;
  queues: QueueBackend;
  logger: Logger;
  health: { budgetMs: number; evidenceLimit: number };
}

/**
 * Runs one queued health check. Diagnostics are idempotent, so a retry (or a stalled job
 * picked up again after a worker crash) simply runs them again, and jobs for the same target
 * picked up together share one run (see Coalescer). An unreachable target is a report, not
 * a failure: retrying it would only delay the answer.
 */
export function healthJobProcessor(deps: HealthJobDeps) {
  const checks = new Coalescer<HealthReport>();
  return async (job: Job): Promise<void> => {
    const pickedUpAt = performance.now();
    const parsed = healthJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid health job payload: ${parsed.error.message}`);
    const { runId } = parsed.data;
    const run = await deps.runs.get(runId);
    if (!run) throw new UnrecoverableError(`run ${runId} does not exist`);
    if (run.status !== 'done' && run.status !== 'failed') {
      await deps.runs.markRunning(runId);
      let target: ReturnType<TargetRegistry['resolve']>;
      try {
        target = deps.targets.resolve(run.target);
      } catch (err) {
        // The target was removed from configuration after the command was accepted.
        await deps.runs.markFailed(runId, (err as Error).message);
        await enqueueReport(deps.queues, runId);
        return;
      }
      const report = await checks.run(target.name, pickedUpAt, () =>
        runHealthCheck(target, deps.pools.readOnly(target), { ...deps.health, logger: deps.logger }),
      );
      await deps.runs.saveReport(runId, report);
    }
    // Also reached on a retry after a crash between saving and enqueueing: the job id
    // makes the second enqueue a no-op while the first still exists.
    await enqueueReport(deps.queues, runId);
  };
}

async function enqueueReport(queues: QueueBackend, runId: string): Promise<void> {
  await queues
    .queue(QUEUES.notifications)
    .add(
      JOBS.healthReport,
      { runId },
      { jobId: `report-${runId}`, attempts: 8, backoff: { type: 'exponential', delay: 2000 }, ...RETENTION },
    );
}
