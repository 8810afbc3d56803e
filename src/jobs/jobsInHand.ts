import type { Processor } from 'bullmq';

/**
 * The jobs a process is working on, so stopping can wait for the work itself apart from the
 * queue's bookkeeping around it (which may be waiting on a queue that is unreachable).
 */
export class JobsInHand {
  private readonly running = new Set<Promise<unknown>>();

  track(processor: Processor): Processor {
    return (job, token, signal) => {
      const work = processor(job, token, signal);
      this.running.add(work);
      const settle = () => this.running.delete(work);
      work.then(settle, settle);
      return work;
    };
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves once no job is in hand, including jobs picked up while waiting. */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
