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
import type { Logger } from '../logger.js';

export interface QueueBackend {
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
  close(): Promise<void>;
}

/** The schema BullMQ's PostgreSQL backend keeps its tables in, apart from the bot's own. */
const POSTGRES_QUEUE_SCHEMA = 'bullmq';
const PREFIX = 'runbook-bot';

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
  const connections: Redis[] = [producer];
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
  return {
    kind: 'redis',
    queue(name) {
      let queue = queues.get(name);
      if (!queue) {
        queue = new Queue(name, { connection: producer, prefix: PREFIX });
        queue.on('error', () => undefined); // reported once by the connection handler above
        queues.set(name, queue);
      }
      return queue;
    },
    worker(name, processor, { concurrency, lockMs }) {
      const connection = new Redis(url, workerOptions);
      connection.on('error', () => undefined);
      connections.push(connection);
      const worker = new Worker(name, processor, {
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
      await producer.ping();
    },
    async close() {
      await Promise.allSettled(workers.map((worker) => worker.close()));
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
      for (const connection of connections) connection.disconnect();
    },
  };
}

async function postgresBackend(databaseUrl: string, logger: Logger): Promise<QueueBackend> {
  // Migrate explicitly and fail fast: a worker started against an unmigrated schema loops
  // on SchemaMigrationRequiredError until it runs out of memory (bullmq reference notes).
  const client = new pg.Client({ connectionString: databaseUrl });
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
  return {
    kind: 'postgres',
    queue(name) {
      let queue = queues.get(name);
      if (!queue) {
        queue = new backend.Queue(name, { connection, prefix: PREFIX });
        queue.on('error', (err: Error) => logger.warn({ err, queue: name }, 'queue error'));
        queues.set(name, queue);
      }
      return queue as unknown as Queue;
    },
    worker(name, processor, { concurrency, lockMs }) {
      const worker = new backend.Worker(name, processor, {
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
      await probe.connect();
      await probe.end();
    },
    async close() {
      await Promise.allSettled(workers.map((worker) => worker.close()));
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
    },
  };
}

export type { ConnectionOptions };

/** How long an enqueue made for a person waiting on an answer may take before they are told the queue is unavailable. */
export const ENQUEUE_TIMEOUT_MS = 1500;
