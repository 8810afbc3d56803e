import {
  type ConnectionOptions,
  createPostgresBackend,
  type Processor,
  Queue,
  runMigrations,
  Worker,
  withBackend,
} from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import pg from 'pg';
import { settlesWhile, settlesWithin, withTimeout } from '../concurrency/withTimeout.js';
import type { Logger } from '../logger.js';
import { once } from '../util/once.js';
import { QUEUES } from './catalog.js';
import { type CatalogQueue, catalogQueue } from './catalogQueue.js';
import { type JobInHand, JobsInHand } from './jobsInHand.js';

/**
 * The job queue: producers queue catalog items (CatalogQueue), workers take them. `queue`
 * is BullMQ's own queue, for the workers' side and for inspection.
 */
export interface QueueBackend extends CatalogQueue {
  kind: 'redis' | 'postgres';
  queue(name: string): Queue;
  /**
   * `lockMs`: how long a job stays claimed without its worker renewing the claim; after a
   * worker dies mid-job, another one takes the job over within about that long (BullMQ's
   * 30 s when not given).
   */
  worker(name: string, processor: Processor, options: { concurrency: number; lockMs?: number }): Worker;
  /** Cheap reachability probe for /readyz. */
  ping(): Promise<void>;
  /**
   * Stops every worker from taking jobs and lets the jobs in hand finish. Bounded when the
   * queue does not answer (see closeWorkers): a job it did not record as finished is run
   * again by another worker once its lock lapses, and every job is idempotent.
   */
  stopWorkers(): Promise<void>;
  /** The jobs this process's workers are running now (what a stop that gives up abandons). */
  jobsInHand(): JobInHand[];
  close(): Promise<void>;
}

/** The schema BullMQ's PostgreSQL backend keeps its tables in, apart from the bot's own. */
const POSTGRES_QUEUE_SCHEMA = 'bullmq';
const PREFIX = 'runbook-bot';
/**
 * Stopping with the queue silent this long takes it as unreachable; with it answering, the
 * queue gets this long to record the jobs that just finished.
 */
const RECORD_GRACE_MS = 5000;
/** How long stopping gives the jobs in hand once the unreachable queue has been dropped. */
const JOBS_IN_HAND_BUDGET_MS = 20_000;

/**
 * BullMQ on Redis when REDIS_URL is set; otherwise BullMQ's PostgreSQL backend on the state
 * database, so a single process needs nothing but Postgres.
 */
export async function createQueueBackend(
  options: { redisUrl?: string; databaseUrl: string },
  logger: Logger,
): Promise<QueueBackend> {
  return options.redisUrl
    ? redisBackend(options.redisUrl, logger)
    : postgresBackend(options.databaseUrl, logger);
}

function redisBackend(url: string, logger: Logger): QueueBackend {
  // Producers answer a Slack request: with Redis down they must fail at once, not queue
  // the command in memory until Redis returns (enableOfflineQueue: false).
  const producerOptions: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
  };
  // Workers wait as long as it takes (BullMQ requires maxRetriesPerRequest: null).
  const workerOptions: RedisOptions = { maxRetriesPerRequest: null };
  const producer = new Redis(url, producerOptions);
  let reported = false;
  producer.on('error', (err) => {
    if (!reported)
      logger.warn({ err }, 'redis unavailable; commands get "queue unavailable" until it returns');
    reported = true;
  });
  producer.on('ready', () => {
    if (reported) logger.info('redis is back');
    reported = false;
  });
  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const workerConnections: Redis[] = [];
  const inHand = new JobsInHand();
  // BullMQ's close waits for Redis to record each job's end; the worker connections retry
  // forever (maxRetriesPerRequest: null), so with Redis down that wait would never end.
  // Disconnecting them (and the blocking connection each worker made) fails the waiting
  // commands, which ends it.
  const stopWorkers = once(() =>
    closeWorkers(workers, inHand, logger, {
      name: 'redis',
      reachable: () => workerConnections.every((connection) => connection.status === 'ready'),
      release: () => {
        for (const worker of workers) worker.disconnect().catch(() => undefined);
        // The producer too: a job queueing its report waits on it, and the bot that shares
        // it in `all` mode has stopped taking requests by now.
        for (const connection of [producer, ...workerConnections]) connection.disconnect();
      },
    }),
  );
  const queueNamed = (name: string): Queue => {
    let queue = queues.get(name);
    if (!queue) {
      queue = boundAdds(new Queue(name, { connection: producer, prefix: PREFIX }));
      queue.on('error', () => undefined); // reported once by the connection handler above
      queues.set(name, queue);
    }
    return queue;
  };
  const backend: QueueBackend = {
    kind: 'redis',
    queue: queueNamed,
    ...catalogQueue(queueNamed),
    worker(name, processor, { concurrency, lockMs }) {
      const connection = new Redis(url, workerOptions);
      connection.on('error', () => undefined);
      workerConnections.push(connection);
      const worker = new Worker(name, inHand.track(processor), {
        connection,
        prefix: PREFIX,
        concurrency,
        ...(lockMs ? { lockDuration: lockMs, stalledInterval: lockMs } : {}),
      });
      worker.on('error', (err) => logger.debug({ err, queue: name }, 'worker connection error'));
      workers.push(worker);
      return worker;
    },
    async ping() {
      // ioredis's own refusal ("Stream isn't writeable…") would say nothing to an operator.
      if (producer.status !== 'ready')
        throw new Error(`redis is unreachable (connection ${producer.status})`);
      await producer.ping();
    },
    stopWorkers,
    jobsInHand: () => inHand.list(),
    async close() {
      await stopWorkers();
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
      for (const connection of [producer, ...workerConnections]) connection.disconnect();
    },
  };
  // Made now, while Redis may well be up: a BullMQ queue first made while Redis is down
  // waits for it before failing anything (the producer's "fail at once" would not hold, and
  // a job queueing its report would hang), while one made earlier fails at once.
  for (const name of Object.values(QUEUES)) queueNamed(name);
  return backend;
}

async function postgresBackend(databaseUrl: string, logger: Logger): Promise<QueueBackend> {
  // Migrate explicitly and fail fast: a worker started against an unmigrated schema loops
  // on SchemaMigrationRequiredError until it runs out of memory (bullmq reference notes).
  const client = new pg.Client({ connectionString: databaseUrl });
  // A connection lost while held emits 'error' on the client; unheard, it would end the
  // process. The query in flight fails with it, which is what the caller sees.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await runMigrations(client, POSTGRES_QUEUE_SCHEMA);
  } finally {
    await client.end();
  }
  const backend = withBackend(createPostgresBackend);
  const connection = { connectionString: databaseUrl, schema: POSTGRES_QUEUE_SCHEMA, max: 4 };
  const queues = new Map<string, InstanceType<typeof backend.Queue>>();
  const workers: Array<InstanceType<typeof backend.Worker>> = [];
  const inHand = new JobsInHand();
  const stopWorkers = once(() =>
    // Jobs fail fast when the state database is down (no offline queue as in ioredis), so
    // they are always waited for; whether the queue can record them shows in the grace period.
    closeWorkers(workers, inHand, logger, { name: 'the state database', reachable: () => true }),
  );
  const queueNamed = (name: string): Queue => {
    let queue = queues.get(name);
    if (!queue) {
      queue = boundAdds(new backend.Queue(name, { connection, prefix: PREFIX }));
      queue.on('error', (err: Error) => logger.warn({ err, queue: name }, 'queue error'));
      queues.set(name, queue);
    }
    return queue as unknown as Queue;
  };
  return {
    kind: 'postgres',
    queue: queueNamed,
    ...catalogQueue(queueNamed),
    worker(name, processor, { concurrency, lockMs }) {
      const worker = new backend.Worker(name, inHand.track(processor), {
        connection,
        prefix: PREFIX,
        concurrency,
        ...(lockMs ? { lockDuration: lockMs, stalledInterval: lockMs } : {}),
      });
      worker.on('error', (err: Error) => logger.warn({ err, queue: name }, 'worker error'));
      workers.push(worker);
      return worker as unknown as Worker;
    },
    async ping() {
      const probe = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2000 });
      probe.on('error', () => undefined); // as above: /readyz must not take the process down
      await probe.connect();
      await probe.end();
    },
    stopWorkers,
    jobsInHand: () => inHand.list(),
    async close() {
      await stopWorkers();
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
    },
  };
}

/**
 * Closes the workers: they take no more jobs, and the jobs in hand finish. While the queue
 * answers, those are waited for as long as they take, and then the queue gets
 * RECORD_GRACE_MS to record them. When it stops answering (RECORD_GRACE_MS without), its
 * connections are dropped: whatever waits on it fails at once (BullMQ's close, which would
 * otherwise wait for Redis forever; a job queueing its report), the jobs in hand get
 * JOBS_IN_HAND_BUDGET_MS to end, and stopping goes on. Another worker runs a job the queue
 * did not record as done again once its lock lapses; every job is idempotent.
 */
async function closeWorkers(
  workers: ReadonlyArray<{ close(): Promise<void> }>,
  inHand: JobsInHand,
  logger: Logger,
  queueStore: { name: string; reachable: () => boolean; release?: () => void },
): Promise<void> {
  const closed = Promise.allSettled(workers.map((worker) => worker.close()));
  const drained = inHand.drained();
  const finished = await settlesWhile(drained, queueStore.reachable, RECORD_GRACE_MS);
  if (finished && queueStore.reachable() && (await settlesWithin(closed, RECORD_GRACE_MS))) return;
  logger.warn(
    { jobsInHand: inHand.size },
    `${queueStore.name} did not answer while stopping: the jobs' end may not be recorded, and another worker ` +
      'runs any such job again once its lock lapses',
  );
  queueStore.release?.();
  if (!(await settlesWithin(drained, JOBS_IN_HAND_BUDGET_MS)))
    logger.warn({ jobsInHand: inHand.size }, 'jobs still in hand are left to another worker');
}

export type { ConnectionOptions };

/** How long adding a job may take before the queue counts as unavailable. */
const ENQUEUE_TIMEOUT_MS = 1500;

/**
 * Every job added through the backend fails after ENQUEUE_TIMEOUT_MS instead of waiting on
 * a slow or absent queue: a person is often waiting for the answer (told "the queue is
 * unavailable" at once), and a job that adds one would rather fail and be retried than hang.
 */
function boundAdds<Q extends Pick<Queue, 'add' | 'addBulk'>>(queue: Q): Q {
  const add = queue.add.bind(queue);
  const addBulk = queue.addBulk.bind(queue);
  queue.add = (...args) => withTimeout(add(...args), ENQUEUE_TIMEOUT_MS);
  queue.addBulk = (...args) => withTimeout(addBulk(...args), ENQUEUE_TIMEOUT_MS);
  return queue;
}
