import { type FleetJob, JOBS } from '../jobs/catalog.js';
import { JobCannotSucceed } from '../jobs/processors.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { errorText } from '../redact.js';
import type { RunStore } from '../store/runs.js';
import { type BudgetWait, reportingWaits } from '../targets/connectionBudget.js';
import type { TargetPools } from '../targets/pools.js';
import type { TargetRegistry } from '../targets/registry.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';
import { runHealthCheck } from './engine.js';
import { asFleetMember, fleetPaceText, runFleet } from './fleet.js';
import type { RunbookThresholdLayer } from './thresholds.js';

export interface FleetJobDeps {
  runs: RunStore;
  targets: TargetRegistry;
  /** The worker's pools: each target runs on a scope of them (its budget, its cancel-on-stop). */
  pools: TargetPools;
  queues: QueueBackend;
  logger: Logger;
  health: { budgetMs: number; evidenceLimit: number };
  /** Targets checked at once (FLEET_CONCURRENCY). */
  concurrency: number;
  /** The worker's TARGET_CONNECTION_BUDGET: fewer run at once when it is smaller. */
  connectionBudget: number;
  runbookThresholds?: (target: Target) => RunbookThresholdLayer | undefined;
}

/**
 * Checks a fleet's targets, `concurrency` at a time, each on one connection of its own
 * (asFleetMember; a scope of the worker's pools: within its connection budget, cancelled when
 * it stops) closed when its run ends: however many targets, the fleet holds at most
 * `concurrency` target connections, fewer when the budget is short, and none stay open after
 * it. Each report is saved as its target finishes, so
 * a retry (or a stalled job picked up after a worker crash) checks only the targets not done
 * yet. Then the summary is queued; its job id makes a second enqueue a no-op.
 */
export function fleetHealthJobProcessor(deps: FleetJobDeps) {
  return async (job: FleetJob): Promise<void> => {
    const runs = await deps.runs.claim(job.runIds);
    if (runs.length === 0) throw new JobCannotSucceed(`runs ${job.runIds.join(', ')} do not exist`);
    const pending = runs.filter((run) => run.status !== 'done' && run.status !== 'failed');
    // A worker taking over a killed fleet job (or a retry) says so: otherwise its log shows
    // only that it started, and nothing tells the checks under way apart from a new run.
    if (runs.some((run) => run.resumed))
      deps.logger.info(
        { fleet: job.label, runs: runs.length, left: pending.length },
        `resuming fleet run ${job.label}: ${pending.length} of ${plural(runs.length, 'target')} left`,
      );
    const resolved: Array<{ id: string; target: Target }> = [];
    for (const run of pending) {
      try {
        resolved.push({ id: run.id, target: asFleetMember(deps.targets.resolve(run.target)) });
      } catch (err) {
        // The target was removed from configuration after the command was accepted.
        await deps.runs.markFailed([run.id], errorText(err));
      }
    }
    await runFleet(resolved, deps.concurrency, async ({ id, target }) => {
      const pools = deps.pools.scope();
      let told = false;
      // A target waiting for the budget is logged once; its report says how long it waited.
      const onWait = ({ position, size }: BudgetWait) => {
        if (told || position === 0) return;
        told = true;
        deps.logger.info(
          { target: target.name, position, budget: size, fleet: job.label },
          'fleet run waiting for a target connection slot',
        );
      };
      try {
        const report = await reportingWaits(onWait, () =>
          runHealthCheck(target, pools.readOnly(target), {
            ...deps.health,
            logger: deps.logger,
            runbookThresholds: deps.runbookThresholds?.(target),
          }),
        );
        await deps.runs.saveReport(id, report);
      } finally {
        await pools.closeAll();
      }
    });
    await deps.queues.enqueue({
      name: JOBS.fleetSummary,
      data: { ...job, pace: fleetPaceText(deps.concurrency, deps.connectionBudget, runs.length) },
    });
  };
}
