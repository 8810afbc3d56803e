import type { ApprovalService } from '../approvals/approvalService.js';
import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import type { ActionRequestStore } from '../store/actionRequests.js';
import type { IncidentStore } from '../store/incidents.js';
import type { ProcedureRunStore } from '../store/procedureRuns.js';
import type { RunStore, StrandedFleet, StrandedRun } from '../store/runs.js';
import { groupBy } from '../util/groupBy.js';
import { runPeriodically } from '../util/periodic.js';

export interface StrandedRunSweep {
  /** A run is stranded this long after anything last happened to it (doubling with each requeue). */
  quietSeconds: number;
  /** Runs older than this are left alone: a report a day late helps nobody. */
  windowSeconds: number;
  /** How often each worker process sweeps. */
  everyMs: number;
}

/**
 * Five minutes: longer than a report job's own retries (2 + 4 + … + 128 s) and a health
 * job's, so the sweep takes over from jobs that gave up or vanished, not from slow ones.
 */
export const STRANDED_RUN_SWEEP: StrandedRunSweep = {
  quietSeconds: 300,
  windowSeconds: 86_400,
  everyMs: 60_000,
};

/** Runs per job, as the bot batches them. */
const SWEEP_BATCH = 100;

/**
 * The run is recorded before its job is queued and its report before it is posted, so the
 * state database knows what the queue may have lost: a Redis that restarted empty, a bot
 * stopped between recording and queueing, a Slack outage longer than a report job's
 * retries. This queues such runs again, unfinished ones to be checked and finished ones to
 * be posted; a run's requeue mark is taken back when queueing fails. Jobs are idempotent and
 * posting takes a lease, so a run whose first job turns up after all is not posted twice.
 */
export async function requeueStrandedRuns(
  runs: RunStore,
  queues: QueueBackend,
  sweep: Pick<StrandedRunSweep, 'quietSeconds' | 'windowSeconds'>,
): Promise<StrandedRun[]> {
  // Nothing can be queued while the queue is down; the runs keep their place meanwhile.
  await queues.ping();
  return runs.requeueStranded({ ...sweep, limit: SWEEP_BATCH }, (stranded) => enqueue(queues, stranded));
}

/**
 * Fleet runs whose summary was never posted and whose runs went quiet: the fleet job was lost
 * (Redis restarted empty), gave up, or its worker was killed and the job stalled past its
 * limit; or the summary job was. Their runs have no channel, so requeueStrandedRuns does not
 * see them. Each gets its fleet job again (it checks only the targets not done, then queues
 * the summary) or, all runs finished, its summary job; under the job id it was first queued
 * with, so a job still in the queue is not duplicated and one that failed is retried.
 */
export async function requeueStrandedFleets(
  runs: RunStore,
  queues: QueueBackend,
  sweep: Pick<StrandedRunSweep, 'quietSeconds' | 'windowSeconds'>,
): Promise<StrandedFleet[]> {
  await queues.ping();
  return runs.requeueStrandedFleets({ ...sweep, limit: SWEEP_BATCH }, async (fleets) => {
    for (const { runIds, channel, label, finished } of fleets) {
      const data = { runIds, channel, label };
      await queues.ensure({ name: finished ? JOBS.fleetSummary : JOBS.fleetHealth, data });
    }
  });
}

async function enqueue(queues: QueueBackend, stranded: StrandedRun[]): Promise<void> {
  const unfinished = stranded.filter((run) => run.status === 'queued' || run.status === 'running');
  const unposted = stranded.filter((run) => run.status === 'done');
  // Named after the first run and its requeue count: a retried sweep queues nothing twice,
  // and the next sweep of the same run is a new job.
  const requeue = (batch: StrandedRun[]) => ({
    data: { runIds: batch.map((run) => run.id) },
    occasion: { requeue: batch[0]!.requeueCount },
  });
  await queues.enqueueMany([
    ...[...groupBy(unfinished, (run) => run.target)].map(([, batch]) => ({
      name: JOBS.health,
      ...requeue(batch),
    })),
    ...(unposted.length > 0 ? [{ name: JOBS.healthReport, ...requeue(unposted) }] : []),
  ]);
}

/** The other records whose jobs the queue may lose, beside health runs. */
export interface StrandedWorkStores {
  approvals: ApprovalService;
  requests: ActionRequestStore;
  procedureRuns: ProcedureRunStore;
  incidents: IncidentStore;
}

/**
 * An approved request waits for its execution job no longer than this before the sweep
 * queues it again: the job is queued right after the approval, or not at all (queue down),
 * and the execution window (ten minutes by default) is short.
 */
export const APPROVAL_QUIET_SECONDS = 30;

export interface RecoveredWork {
  /** Approved requests whose execution job was queued again (or retried). */
  executions: string[];
  lapsed: string[];
  expired: string[];
  procedureRuns: string[];
  incidents: string[];
  /** Refusal events appended for repeats that had gone quiet. */
  refusals: number;
}

/**
 * Beside health runs, the state database knows of other work the queue may have lost (a
 * Redis restarted empty, a queue down when the work was recorded): approved requests
 * waiting for their execution, pending requests past their expiry, procedure runs not run
 * or not posted, incidents not opened in Slack. This queues each one's job again under the
 * job id it was first queued with, so a job still in the queue is not duplicated (and one
 * that failed is retried rather than added twice); executions stay at most once anyway,
 * since a request moves approved → executing once. An approved request whose window has
 * passed is lapsed instead, and a pending one past its expiry expired.
 */
export async function recoverStrandedWork(
  stores: StrandedWorkStores,
  queues: QueueBackend,
  sweep: Pick<StrandedRunSweep, 'quietSeconds' | 'windowSeconds'> & { approvalQuietSeconds?: number },
): Promise<RecoveredWork> {
  // Nothing can be queued (nor a card updated) while the queue is down: everything waits.
  await queues.ping();
  const recovered: RecoveredWork = {
    executions: [],
    lapsed: [],
    expired: [],
    procedureRuns: [],
    incidents: [],
    refusals: 0,
  };
  const window = { windowSeconds: sweep.windowSeconds, limit: SWEEP_BATCH };
  const waiting = await stores.requests.waiting({
    limit: SWEEP_BATCH,
    quietSeconds: sweep.approvalQuietSeconds ?? APPROVAL_QUIET_SECONDS,
  });
  for (const request of waiting) {
    if (request.status === 'pending') {
      if (await stores.approvals.expireOverdue(request.id)) recovered.expired.push(request.id);
    } else if (request.due) {
      if (await stores.approvals.lapse(request.id)) recovered.lapsed.push(request.id);
    } else if (await queues.ensure({ name: JOBS.executeAction, data: { requestId: request.id } })) {
      recovered.executions.push(request.id);
    }
  }
  for (const run of await stores.procedureRuns.stranded({ ...window, quietSeconds: sweep.quietSeconds })) {
    const name = run.status === 'queued' || run.status === 'running' ? JOBS.procedureRun : JOBS.procedurePost;
    if (await queues.ensure({ name, data: { runId: run.id } })) recovered.procedureRuns.push(run.id);
  }
  for (const incidentId of await stores.incidents.unopened({ ...window, quietSeconds: sweep.quietSeconds })) {
    if (await queues.ensure({ name: JOBS.incidentOpen, data: { incidentId } }))
      recovered.incidents.push(incidentId);
  }
  recovered.refusals = await stores.approvals.flushRefusals();
  return recovered;
}

/**
 * Sweeps every `everyMs` until stopped; a failed sweep is logged and the next one tries
 * again. `stop()` waits for a sweep under way. With `work`, approvals, procedure runs and
 * incidents are swept too (recoverStrandedWork).
 */
export function startStrandedRunSweeper(
  runs: RunStore,
  queues: QueueBackend,
  logger: Logger,
  sweep: StrandedRunSweep,
  work?: StrandedWorkStores,
): { stop(): Promise<void> } {
  let failing = false;
  let workFailing = false;
  const sweepWork = async (stores: StrandedWorkStores) => {
    try {
      const recovered = await recoverStrandedWork(stores, queues, sweep);
      workFailing = false;
      const { refusals, ...jobs } = recovered;
      if (Object.values(jobs).some((ids) => ids.length > 0))
        logger.warn(recovered, 'work whose job was lost was queued again, lapsed or expired');
    } catch (err) {
      if (!workFailing)
        logger.warn(
          { err },
          'the sweep for stranded approvals, procedure runs and incidents failed; it tries again',
        );
      workFailing = true;
    }
  };
  const sweepOnce = async () => {
    if (work) await sweepWork(work);
    try {
      const requeued = await requeueStrandedRuns(runs, queues, sweep);
      failing = false;
      if (requeued.length > 0) {
        logger.warn(
          { runs: requeued.map((run) => ({ id: run.id, status: run.status, requeue: run.requeueCount })) },
          'health runs whose job was lost or gave up were queued again',
        );
      }
      const fleets = await requeueStrandedFleets(runs, queues, sweep);
      if (fleets.length > 0) {
        logger.warn(
          {
            fleets: fleets.map((fleet) => ({
              id: fleet.runIds[0],
              label: fleet.label,
              next: fleet.finished ? 'summary' : 'check',
              requeue: fleet.requeueCount,
            })),
          },
          'fleet health runs whose job was lost or gave up were queued again',
        );
      }
    } catch (err) {
      // Once per outage, not once a minute.
      if (!failing)
        logger.warn({ err }, 'the sweep for stranded health runs failed; it tries again every minute');
      failing = true;
    }
  };
  return runPeriodically(sweep.everyMs, sweepOnce);
}
