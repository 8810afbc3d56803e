import type { Processor } from 'bullmq';

/** A job being worked on, as a stop that gave up on it reports it. */
export interface JobInHand {
  queue?: string;
  name?: string;
  id?: string;
  /** How long it has been running, in ms. */
  runningMs: number;
}

/**
 * The jobs a process is working on, so stopping can wait for the work itself apart from the
 * queue's bookkeeping around it (which may be waiting on a queue that is unreachable), and
 * say which jobs it left behind when it could not wait any longer.
 */
export class JobsInHand {
  private readonly running = new Map<
    Promise<unknown>,
    { queue?: string; name?: string; id?: string; since: number }
  >();

  track(processor: Processor): Processor {
    return (job, token, signal) => {
      const work = processor(job, token, signal);
      this.running.set(work, { queue: job?.queueName, name: job?.name, id: job?.id, since: Date.now() });
      const settle = () => this.running.delete(work);
      work.then(settle, settle);
      return work;
    };
  }

  get size(): number {
    return this.running.size;
  }

  /** The jobs in hand now. */
  list(): JobInHand[] {
    const now = Date.now();
    return [...this.running.values()].map(({ since, ...job }) => ({ ...job, runningMs: now - since }));
  }

  /** Resolves once no job is in hand, including jobs picked up while waiting. */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.keys()]);
  }
}
