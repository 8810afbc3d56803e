import { type Done, done, type Refusal, refusal } from '../answer.js';
import { MicroBatcher } from '../concurrency/microBatcher.js';
import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { queuedWithoutWorkerText, type WorkerPresence } from '../service/workerPresence.js';
import type { NewHealthRun, RunStore } from '../store/runs.js';
import { groupBy } from '../util/groupBy.js';

export const STATE_DATABASE_UNAVAILABLE =
  'The state database is unavailable right now, so nothing was started. Try again in a minute.';
export const QUEUE_UNAVAILABLE =
  'The job queue is unavailable right now, so nothing was started. Try again in a minute.';

/** The answer to the person who asked, and how it counts in the command metrics. */
export type StartResult =
  | (Done & { outcome: 'queued' | 'duplicate' })
  | (Refusal & { outcome: 'unavailable' });

/**
 * Starts health runs: records each one, then queues it, and answers in words fit for the
 * person who asked. Either step failing leaves a clear answer and no half-started run.
 * Requests arriving together are recorded in one statement and queued in one call, which
 * keeps acknowledgements fast when a whole channel types the same command.
 */
export class HealthRunStarter {
  private readonly batcher = new MicroBatcher<NewHealthRun, StartResult>((inputs) => this.startAll(inputs));

  constructor(
    private readonly runs: RunStore,
    private readonly queues: QueueBackend,
    private readonly logger: Logger,
    /** When given, a run queued while no worker is alive is answered as waiting, not running. */
    private readonly workers?: WorkerPresence,
  ) {}

  start(input: NewHealthRun): Promise<StartResult> {
    return this.batcher.submit(input);
  }

  private async startAll(inputs: NewHealthRun[]): Promise<StartResult[]> {
    let recorded: Awaited<ReturnType<RunStore['createHealthRuns']>>;
    try {
      recorded = await this.runs.createHealthRuns(inputs);
    } catch (err) {
      this.logger.error({ err }, 'state database unavailable');
      return inputs.map(() =>
        refusal(STATE_DATABASE_UNAVAILABLE, {
          outcome: 'unavailable' as const,
        }),
      );
    }
    const fresh = recorded.filter((entry) => entry.created).map((entry) => entry.run);
    let queued = true;
    if (fresh.length > 0) {
      try {
        await this.queues.enqueueMany(
          // One job per target: the check runs once for every run recorded with it.
          [...groupBy(fresh, (run) => run.target)].map(([, runs]) => ({
            name: JOBS.health,
            data: { runIds: runs.map((run) => run.id) },
          })),
        );
      } catch (err) {
        queued = false;
        this.logger.warn({ err, runs: fresh.length }, 'could not enqueue health checks');
        await this.runs
          .markFailed(
            fresh.map((run) => run.id),
            'queue unavailable',
          )
          .catch(() => undefined);
      }
    }
    const workersDown = queued && fresh.length > 0 ? await this.workers?.down() : undefined;
    return recorded.map(({ run, created }, i): StartResult => {
      const target = inputs[i]?.target ?? run.target;
      if (!created)
        return done(`Already running health check on ${target}…`, { outcome: 'duplicate' as const });
      if (!queued)
        return refusal(QUEUE_UNAVAILABLE, {
          outcome: 'unavailable' as const,
        });
      if (workersDown)
        return done(queuedWithoutWorkerText(`The health check on ${target}`, workersDown), {
          outcome: 'queued' as const,
        });
      return done(`Running health check on ${target}…`, { outcome: 'queued' as const });
    });
  }
}
