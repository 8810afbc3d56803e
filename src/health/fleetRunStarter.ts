import { done, refusal } from '../answer.js';
import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { queuedWithoutWorkerText, type WorkerPresence } from '../service/workerPresence.js';
import type { RunStore } from '../store/runs.js';
import type { TargetRegistry } from '../targets/registry.js';
import { plural } from '../text.js';
import { type FleetSelector, fleetLabel, selectFleet } from './fleet.js';
import { QUEUE_UNAVAILABLE, STATE_DATABASE_UNAVAILABLE, type StartResult } from './healthRunStarter.js';

export interface FleetRunDeps {
  runs: RunStore;
  queues: QueueBackend;
  targets: TargetRegistry;
  logger: Logger;
  workers?: WorkerPresence;
}

export interface FleetRequest {
  selector: FleetSelector;
  requestedBy: string;
  /** Where the one summary goes; the runs themselves carry no channel, so none is posted alone. */
  channelId: string;
  /** Same key, same fleet run: a retried command starts nothing twice. */
  idempotencyKey: string;
}

/**
 * Starts a fleet health run: a run per target is recorded (each in `history`, each with its
 * report), then one fleet job is queued that checks them a few at a time and queues the
 * summary. An unknown tag throws the UserError selectFleet words.
 */
export async function startFleetHealth(deps: FleetRunDeps, request: FleetRequest): Promise<StartResult> {
  const targets = selectFleet(deps.targets, request.selector);
  const label = fleetLabel(request.selector);
  let recorded: Awaited<ReturnType<RunStore['createHealthRuns']>>;
  try {
    recorded = await deps.runs.createHealthRuns(
      targets.map((target) => ({
        target: target.name,
        requestedBy: request.requestedBy,
        idempotencyKey: `${request.idempotencyKey}:${target.name}`,
        askedInChannel: request.channelId,
      })),
    );
    // Recorded before the job is queued, also for a retried command (a no-op then): the
    // runs carry no channel, so this row is what lets the sweep find a fleet whose job was lost.
    await deps.runs.recordFleet({
      runIds: recorded.map((entry) => entry.run.id),
      channel: request.channelId,
      label,
    });
  } catch (err) {
    deps.logger.error({ err }, 'state database unavailable');
    return refusal(STATE_DATABASE_UNAVAILABLE, { outcome: 'unavailable' as const });
  }
  if (!recorded.some((entry) => entry.created))
    return done(`Already checking ${label}…`, { outcome: 'duplicate' as const });
  const runIds = recorded.map((entry) => entry.run.id);
  try {
    await deps.queues.enqueue({
      name: JOBS.fleetHealth,
      data: { runIds, channel: request.channelId, label },
    });
  } catch (err) {
    deps.logger.warn({ err, runs: runIds.length }, 'could not enqueue a fleet health run');
    await deps.runs.markFailed(runIds, 'queue unavailable').catch(() => undefined);
    return refusal(QUEUE_UNAVAILABLE, { outcome: 'unavailable' as const });
  }
  const what = `The health check of ${label} (${plural(targets.length, 'target')})`;
  const workersDown = await deps.workers?.down();
  if (workersDown) return done(queuedWithoutWorkerText(what, workersDown), { outcome: 'queued' as const });
  return done(`Checking ${label}: ${plural(targets.length, 'target')}; one summary follows here.`, {
    outcome: 'queued' as const,
  });
}
