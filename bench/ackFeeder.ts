/**
 * Gives bench/ack.ts's worker, while the bare-Bolt anchor is measured, the same work the bot
 * would have given it: the load generator sends it the indexes of the commands the anchor
 * acknowledged, and they are recorded and queued through the bot's own HealthRunStarter
 * (one statement and one addBulk per batch, as in the bot). So the anchor is measured on a
 * machine as loaded as the bot's run is, the worker checking and posting the same reports.
 * A process of its own so its work is not on the load generator's event loop.
 *
 * Env: DATABASE_URL, REDIS_URL (or none: BullMQ's PostgreSQL backend), TARGET_NAME.
 * IPC in: number[] (command indexes); out: 'ready'.
 */
import { HealthRunStarter } from '../src/health/healthRunStarter.js';
import { createQueueBackend } from '../src/jobs/queueBackend.js';
import { createLogger } from '../src/logger.js';
import { RunStore } from '../src/store/runs.js';
import { createStatePool } from '../src/store/statePool.js';

const logger = createLogger({ level: 'warn' });
const databaseUrl = process.env.DATABASE_URL!;
const state = createStatePool(databaseUrl, { max: 10, min: 4, application_name: 'bench-feeder' });
const queues = await createQueueBackend({ redisUrl: process.env.REDIS_URL, databaseUrl }, logger);
const starter = new HealthRunStarter(new RunStore(state), queues, logger);
const target = process.env.TARGET_NAME ?? 'default';

process.on('message', (indexes: number[]) => {
  for (const i of indexes)
    starter
      .start({
        target,
        requestedBy: `U${i}`,
        channelId: `A${i}`,
        responseUrl: 'https://hooks.slack.com/commands/1',
        idempotencyKey: `anchor:${i}`,
      })
      .catch((err: unknown) => logger.error({ err }, 'the feeder could not start a run'));
});
process.on('disconnect', () => {
  void Promise.allSettled([queues.close(), state.end()]).then(() => process.exit(0));
});
process.send?.('ready');
