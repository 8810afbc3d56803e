import type { Job } from 'bullmq';
import { JobProcessors } from '../../src/jobs/processors.js';

/**
 * What a worker does with a job of the jobs `register` registers (parse the payload, run its
 * processor), without a queue: for calling processors directly with a job made up by the test.
 */
export function processorOf<D>(
  register: (jobs: JobProcessors, deps: D) => void,
  deps: D,
): (job: Pick<Job, 'name' | 'data'>) => Promise<unknown> {
  const jobs = new JobProcessors();
  register(jobs, deps);
  return (job) => jobs.run(job as Job);
}
