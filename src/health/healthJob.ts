import { Coalescer } from '../concurrency/coalescer.js';
import { JOBS, type JobPayload } from '../jobs/catalog.js';
import { JobCannotSucceed } from '../jobs/processors.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { errorText } from '../redact.js';
import type { RunStore } from '../store/runs.js';
import type { TargetPools } from '../targets/pools.js';
import type { TargetRegistry } from '../targets/registry.js';
import type { Target } from '../targets/target.js';
import { groupBy } from '../util/groupBy.js';
import { runHealthCheck } from './engine.js';
import type { RunbookThresholdLayer } from './thresholds.js';
import type { HealthReport } from './types.js';

export interface HealthJobDeps {
  runs: RunStore;
  targets: TargetRegistry;
  pools: TargetPools;
  queues: QueueBackend;
  logger: Logger;
  health: { budgetMs: number; evidenceLimit: number };
  /** The target's thresholds from its runbooks' alert tables (see runbookThresholds.ts). */
  runbookThresholds?: (target: Target) => RunbookThresholdLayer | undefined;
}

/**
 * Runs one queued health check for every run in the job (the runs recorded together for a
 * target). Diagnostics are idempotent, so a retry (or a stalled job picked up again after a
 * worker crash) simply runs them again for the runs not done yet, and jobs for the same
 * target picked up together share one run of the checks (see Coalescer) and one stored
 * report. An unreachable target is a report, not a failure: retrying it would only delay
 * the answer.
 */
export function healthJobProcessor(deps: HealthJobDeps) {
  const checks = new Coalescer<HealthReport>();
  return async ({ runIds }: JobPayload<typeof JOBS.health>): Promise<void> => {
    const pickedUpAt = performance.now();
    const runs = await deps.runs.claim(runIds);
    if (runs.length === 0) throw new JobCannotSucceed(`runs ${runIds.join(', ')} do not exist`);
    const pending = runs.filter((run) => run.status !== 'done' && run.status !== 'failed');
    for (const [targetName, group] of groupBy(pending, (run) => run.target)) {
      const ids = group.map((run) => run.id);
      let target: ReturnType<TargetRegistry['resolve']>;
      try {
        target = deps.targets.resolve(targetName);
      } catch (err) {
        // The target was removed from configuration after the command was accepted.
        await deps.runs.markFailed(ids, errorText(err));
        continue;
      }
      const report = await checks.run(target.name, pickedUpAt, () =>
        runHealthCheck(target, deps.pools.readOnly(target), {
          ...deps.health,
          logger: deps.logger,
          runbookThresholds: deps.runbookThresholds?.(target),
        }),
      );
      await deps.runs.saveReports(ids, report);
    }
    // Every run's report is queued, finished ones too: a retry after a crash between saving
    // and enqueueing gets them posted, and the job ids make a second enqueue a no-op. In the
    // job's own order, so a retry names the report job as the first try did (claim's rows
    // come back in no set order).
    await enqueueReports(deps.queues, runIds);
  };
}

async function enqueueReports(queues: QueueBackend, runIds: string[]): Promise<void> {
  // Named after the first run, as the health job is: enqueueing the same batch again is a no-op.
  await queues.enqueue({ name: JOBS.healthReport, data: { runIds } });
}
