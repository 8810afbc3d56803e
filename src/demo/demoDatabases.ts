import { type EmbeddedServer, startEmbeddedPostgres } from '../store/embeddedPostgres.js';
import type { Target } from '../targets/target.js';
import { createDatabase } from './demoDatabase.js';
import { demoTarget } from './demoTarget.js';
import { induceFaults } from './faults.js';

export interface DemoDatabases {
  /** The bot's own state database. */
  stateUrl: string;
  /** The shop database, with live faults, as a target named `demo`. */
  demoTarget: Target;
  stop(): Promise<void>;
}

/**
 * What `all` mode and the demo run on when there is no DATABASE_URL: a state database and a
 * faulty shop database, on an embedded Postgres (started here, or given, as tests do). A
 * server started here has a process group of its own: both callers stop it on SIGINT and
 * SIGTERM, in order, after the connections to it. Aborting `signal` ends start-up and
 * removes what it made.
 */
export async function startDemoDatabases(
  options: { server?: EmbeddedServer; prefix?: string; signal?: AbortSignal } = {},
): Promise<DemoDatabases> {
  const { signal } = options;
  const server = options.server ?? (await startEmbeddedPostgres({ ownProcessGroup: true, signal }));
  const ownsServer = !options.server;
  try {
    const prefix = options.prefix ?? '';
    const stateUrl = await createDatabase(server, `${prefix}runbook_bot`, { demoSchema: false });
    signal?.throwIfAborted();
    const shop = await createDatabase(server, `${prefix}shop`, { demoSchema: true });
    signal?.throwIfAborted();
    const faults = await induceFaults(shop);
    return {
      stateUrl,
      demoTarget: demoTarget(shop),
      stop: async () => {
        await faults.release();
        if (ownsServer) await server.stop();
      },
    };
  } catch (err) {
    if (ownsServer) await server.stop();
    throw err;
  }
}
