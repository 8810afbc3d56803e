import type { Logger } from '../logger.js';
import type { RunStore, StrandedRun } from '../store/runs.js';
import { groupBy } from '../util/groupBy.js';
import { DIAGNOSTICS_JOB_OPTIONS, JOBS, POST_JOB_OPTIONS, QUEUES } from './payloads.js';
import type { QueueBackend } from './queueBackend.js';

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

async function enqueue(queues: QueueBackend, stranded: StrandedRun[]): Promise<void> {
  const unfinished = stranded.filter((run) => run.status === 'queued' || run.status === 'running');
  const unposted = stranded.filter((run) => run.status === 'done');
  // Named after the first run and its requeue count: a retried sweep queues nothing twice,
  // and the next sweep of the same run is a new job.
  const jobId = (kind: string, batch: StrandedRun[]) =>
    `requeue-${kind}-${batch[0]!.id}-${batch[0]!.requeueCount}`;
  await Promise.all([
    unfinished.length > 0 &&
      queues.queue(QUEUES.diagnostics).addBulk(
        [...groupBy(unfinished, (run) => run.target)].map(([, batch]) => ({
          name: JOBS.health,
          data: { runIds: batch.map((run) => run.id) },
          opts: { jobId: jobId('health', batch), ...DIAGNOSTICS_JOB_OPTIONS },
        })),
      ),
    unposted.length > 0 &&
      queues
        .queue(QUEUES.notifications)
        .add(
          JOBS.healthReport,
          { runIds: unposted.map((run) => run.id) },
          { jobId: jobId('report', unposted), ...POST_JOB_OPTIONS },
        ),
  ]);
}

/**
 * Sweeps every `everyMs` until stopped; a failed sweep is logged and the next one tries
 * again. `stop()` waits for a sweep under way.
 */
export function startStrandedRunSweeper(
  runs: RunStore,
  queues: QueueBackend,
  logger: Logger,
  sweep: StrandedRunSweep,
): { stop(): Promise<void> } {
  let current: Promise<void> | undefined;
  let failing = false;
  const sweepOnce = async () => {
    try {
      const requeued = await requeueStrandedRuns(runs, queues, sweep);
      failing = false;
      if (requeued.length > 0) {
        logger.warn(
          { runs: requeued.map((run) => ({ id: run.id, status: run.status, requeue: run.requeueCount })) },
          'health runs whose job was lost or gave up were queued again',
        );
      }
    } catch (err) {
      // Once per outage, not once a minute.
      if (!failing)
        logger.warn({ err }, 'the sweep for stranded health runs failed; it tries again every minute');
      failing = true;
    }
  };
  const timer = setInterval(() => {
    current ??= sweepOnce().finally(() => {
      current = undefined;
    });
  }, sweep.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await current;
    },
  };
}
