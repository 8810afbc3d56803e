import pg from 'pg';
import { BOT_APPLICATION_NAME } from '../../src/targets/target.js';

/**
 * Samples, on a connection of its own, the most locks any one of the bot's backends holds
 * on the server of `url`, until stopped: how a test and the catalog bench see that no
 * diagnostic holds more than its bound.
 */
export function watchBotLocks(url: string): { stop: () => Promise<{ most: number; samples: number }> } {
  const client = new pg.Client({ connectionString: url, application_name: 'lock-watcher' });
  let running = true;
  let most = 0;
  let samples = 0;
  const loop = (async () => {
    await client.connect();
    try {
      while (running) {
        const { rows } = await client.query<{ held: number }>(
          `SELECT coalesce(max(n), 0)::int AS held FROM (SELECT count(*) AS n FROM pg_locks l
             JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = $1 GROUP BY l.pid) per_backend`,
          [BOT_APPLICATION_NAME],
        );
        most = Math.max(most, rows[0]!.held);
        samples += 1;
      }
    } finally {
      await client.end();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { most, samples };
    },
  };
}
