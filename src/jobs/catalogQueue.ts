import type { Queue } from 'bullmq';
import { CATALOG, type JobItem, type JobName, jobIdOf, jobSpec, type QueueName } from './catalog.js';

/** How a scheduler repeats: every `every` ms from `startDate`, or on a cron pattern in a time zone. */
export type Repeat = { every: number; startDate?: number } | { pattern: string; tz?: string };

/** A job scheduler as the queue keeps it. */
export interface StoredScheduler {
  id: string;
  name: string;
  pattern?: string | null;
  tz?: string | null;
  data: unknown;
}

/**
 * The queue as producers see it: jobs of the catalog, queued, delayed, repeated and
 * cancelled by item, each with the queue, id and options its declaration gives it. No
 * producer names a queue or an option.
 */
export interface CatalogQueue {
  enqueue(item: JobItem): Promise<void>;
  /** Items are added together, one bulk per queue. */
  enqueueMany(items: JobItem[]): Promise<void>;
  /**
   * Queues the item unless a job of its id is still there; one that failed is retried. True
   * when something was queued. Two callers at once add the same id (the queue keeps one),
   * and a retry raced by another caller is refused, which is fine.
   */
  ensure(item: JobItem): Promise<boolean>;
  /** Removes the item's delayed or waiting job, if there is one. */
  cancel(item: JobItem): Promise<void>;
  /**
   * Creates or replaces the scheduler named by the item's job id, which queues the item on
   * `repeat` (each fire a job of its own id).
   */
  schedule(item: JobItem, repeat: Repeat): Promise<void>;
  unschedule(name: JobName, schedulerId: string): Promise<void>;
  /** The schedulers on the queue of job `name` (of any job on that queue). */
  schedulers(name: JobName): Promise<StoredScheduler[]>;
}

/** The CatalogQueue over a backend's queues. */
export function catalogQueue(queue: (name: QueueName) => Queue): CatalogQueue {
  const queueOf = (name: JobName) => queue(CATALOG[name].queue);
  return {
    async enqueue(item) {
      const { queue: name, options } = jobSpec(item);
      await queue(name).add(item.name, item.data, options);
    },
    async enqueueMany(items) {
      const byQueue = new Map<QueueName, Parameters<Queue['addBulk']>[0]>();
      for (const item of items) {
        const { queue: name, options } = jobSpec(item);
        const bulk = byQueue.get(name) ?? [];
        bulk.push({ name: item.name, data: item.data, opts: options });
        byQueue.set(name, bulk);
      }
      await Promise.all([...byQueue].map(([name, bulk]) => queue(name).addBulk(bulk)));
    },
    async ensure(item) {
      const { queue: name, options } = jobSpec(item);
      const existing = await queue(name).getJob(requiredId(item));
      if (!existing) {
        await queue(name).add(item.name, item.data, options);
        return true;
      }
      if (!(await existing.isFailed())) return false;
      await existing.retry('failed').catch(() => undefined);
      return true;
    },
    async cancel(item) {
      await queueOf(item.name)
        .remove(requiredId(item))
        .catch(() => 0);
    },
    async schedule(item, repeat) {
      const { jobId: _, delay: __, ...options } = jobSpec(item).options;
      await queueOf(item.name).upsertJobScheduler(requiredId(item), repeat, {
        name: item.name,
        data: item.data,
        opts: options,
      });
    },
    async unschedule(name, schedulerId) {
      await queueOf(name).removeJobScheduler(schedulerId);
    },
    async schedulers(name) {
      return (await queueOf(name).getJobSchedulers(0, -1, true)).map((scheduler) => ({
        id: scheduler.key,
        name: scheduler.name,
        pattern: scheduler.pattern,
        tz: scheduler.tz,
        data: scheduler.template?.data,
      }));
    },
  };
}

function requiredId(item: JobItem): string {
  const id = jobIdOf(item);
  if (id === undefined) throw new Error(`job "${item.name}" has no id rule, so it cannot be found again`);
  return id;
}
