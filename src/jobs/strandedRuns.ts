import type { Logger } from '../logger.js';
import type { RunStore, StrandedRun } from '../store/runs.js';
import { groupBy } from '../util/groupBy.js';
import { HEALTH_JOB_OPTIONS, JOBS, QUEUES, REPORT_JOB_OPTIONS } from './payloads.js';
import type { QueueBackend } from './queueBackend.js';

export interface StrandedRunSweep {
  /** A run is stranded this long after it was recorded (or queued again: doubling each time). */
  quietSeconds: number;
  /** Runs older than this are left alone: a report a day late helps nobody. */
  windowSeconds: number;
  /** How often each worker process sweeps. */
  everyMs: number;
}

/** Well past a health job's retries and a report job's first few (a Slack blip). */
export const STRANDED_RUN_SWEEP: StrandedRunSweep = {
  quietSeconds: 120,
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
 * be posted. Jobs are idempotent and posting takes a lease, so a run whose first job is
 * only slow is never posted twice. Answers how many runs were queued again.
 */
export async function requeueStrandedRuns(
  runs: RunStore,
  queues: QueueBackend,
  sweep: Pick<StrandedRunSweep, 'quietSeconds' | 'windowSeconds'>,
): Promise<{ unfinished: number; unposted: number }> {
  const stranded = await runs.claimStranded({ ...sweep, limit: SWEEP_BATCH });
  const unfinished = stranded.filter((run) => run.status === 'queued' || run.status === 'running');
  const unposted = stranded.filter((run) => run.status === 'done');
  // Named after the first run and its requeue count: a retried sweep queues nothing twice,
  // and the next sweep of the same run is a new job.
  const jobId = (kind: string, batch: StrandedRun[]) =>
    `requeue-${kind}-${batch[0]!.id}-${batch[0]!.requeueCount}`;
  if (unfinished.length > 0) {
    await queues.queue(QUEUES.diagnostics).addBulk(
      [...groupBy(unfinished, (run) => run.target)].map(([, batch]) => ({
        name: JOBS.health,
        data: { runIds: batch.map((run) => run.id) },
        opts: { jobId: jobId('health', batch), ...HEALTH_JOB_OPTIONS },
      })),
    );
  }
  if (unposted.length > 0) {
    await queues
      .queue(QUEUES.notifications)
      .add(
        JOBS.healthReport,
        { runIds: unposted.map((run) => run.id) },
        { jobId: jobId('report', unposted), ...REPORT_JOB_OPTIONS },
      );
  }
  return { unfinished: unfinished.length, unposted: unposted.length };
}

/** Sweeps every `everyMs` until stopped; a failed sweep is logged and the next one tries again. */
export function startStrandedRunSweeper(
  runs: RunStore,
  queues: QueueBackend,
  logger: Logger,
  sweep: StrandedRunSweep = STRANDED_RUN_SWEEP,
): { stop(): void } {
  let sweeping = false;
  const timer = setInterval(async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      const requeued = await requeueStrandedRuns(runs, queues, sweep);
      if (requeued.unfinished + requeued.unposted > 0)
        logger.warn(requeued, 'health runs whose job was lost or gave up were queued again');
    } catch (err) {
      logger.warn({ err }, 'the sweep for stranded health runs failed; the next one tries again');
    } finally {
      sweeping = false;
    }
  }, sweep.everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
