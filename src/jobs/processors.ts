import { type Job, UnrecoverableError } from 'bullmq';
import { CATALOG, type JobName, type JobPayload, type QueueName } from './catalog.js';

/** What a processor knows of the job beside its payload. */
export interface JobRun {
  id?: string;
  /** When the job was created (ms); retries share it, a job queued again does not. */
  timestamp: number;
  /**
   * No retry follows if this attempt throws: what failed is final and can be recorded as
   * such. Set by JobProcessors.run; absent, it is not known to be the last.
   */
  lastAttempt?: boolean;
}

export type JobProcessor<N extends JobName> = (payload: JobPayload<N>, job: JobRun) => Promise<unknown>;

/**
 * Thrown by a processor when no retry can help (its run or request no longer exists, what it
 * would post is invalid): the job fails for good. Processors throw this rather than BullMQ's
 * own error, so features know the catalog and not the queue library.
 */
export class JobCannotSucceed extends Error {
  override name = 'JobCannotSucceed';
}

/**
 * The processors of the catalog's jobs, one per job. The one place a payload is parsed: a
 * payload its schema refuses fails the job for good (UnrecoverableError), since no retry
 * would make it valid.
 */
export class JobProcessors {
  private readonly processors = new Map<JobName, JobProcessor<JobName>>();

  register<N extends JobName>(name: N, processor: JobProcessor<N>): this {
    if (this.processors.has(name)) throw new Error(`job "${name}" has two processors`);
    this.processors.set(name, processor as unknown as JobProcessor<JobName>);
    return this;
  }

  /** Throws, naming them, when some job of the catalog has no processor. */
  assertComplete(): void {
    const missing = (Object.keys(CATALOG) as JobName[]).filter((name) => !this.processors.has(name));
    if (missing.length > 0)
      throw new Error(
        `no processor is registered for ${missing.map((name) => `"${name}"`).join(', ')}: ` +
          'every job in src/jobs/catalog.ts needs one (register it in service/startWorkers.ts)',
      );
  }

  /** Parses the job's payload and runs its processor. */
  async run(
    job: Pick<Job, 'name' | 'data' | 'id' | 'timestamp'> & Partial<Pick<Job, 'attemptsMade' | 'opts'>>,
  ): Promise<unknown> {
    const name = job.name as JobName;
    const processor = this.processors.get(name);
    if (!processor) throw new UnrecoverableError(`unknown job "${job.name}"`);
    const parsed = CATALOG[name].schema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid ${job.name} payload: ${parsed.error.message}`);
    try {
      // attemptsMade counts the attempts that failed before this one.
      const lastAttempt = (job.attemptsMade ?? 0) + 1 >= (job.opts?.attempts ?? 1);
      return await processor(parsed.data as JobPayload<JobName>, {
        id: job.id,
        timestamp: job.timestamp,
        lastAttempt,
      });
    } catch (err) {
      if (err instanceof JobCannotSucceed) throw new UnrecoverableError(err.message);
      throw err;
    }
  }

  /** The worker's processor for one queue: jobs of other queues are refused by name. */
  forQueue(queue: QueueName): (job: Job) => Promise<unknown> {
    return async (job) => {
      if (!Object.hasOwn(CATALOG, job.name) || CATALOG[job.name as JobName].queue !== queue)
        throw new UnrecoverableError(`unknown ${queue} job "${job.name}"`);
      return this.run(job);
    };
  }
}
