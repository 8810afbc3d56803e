import pg from 'pg';
import { UserError } from '../errors.js';
import type { Logger } from '../logger.js';
import { actionsUnavailableText, BOT_APPLICATION_NAME, type Target } from './target.js';

/** Slack for network stalls the server-side statement_timeout cannot see. */
const CLIENT_TIMEOUT_MARGIN_MS = 2000;

/** Remediations run one at a time per target; the second connection is for the re-check. */
const REMEDIATION_POOL_MAX = 2;

/**
 * One small read-only pool per target, opened on first use, and a separate remediation pool
 * for approved actions. Pools are the only way the bot talks to targets, so the application
 * name and timeouts are set in one place.
 */
export class TargetPools {
  private readonly pools = new Map<string, pg.Pool>();
  private readonly remediationPools = new Map<string, pg.Pool>();
  /** Connections checked out now, with the URL they came from (see cancelInFlight). */
  private readonly inUse = new Map<pg.PoolClient, string>();

  constructor(private readonly logger?: Logger) {}

  private track(pool: pg.Pool, url: string): pg.Pool {
    pool.on('acquire', (client) => this.inUse.set(client, url));
    pool.on('release', (_err, client) => this.inUse.delete(client));
    pool.on('remove', (client) => this.inUse.delete(client));
    return pool;
  }

  /**
   * Cancels the statement each checked-out connection is running (pg_cancel_backend, from a
   * connection of its own per target): a stopping worker's jobs then end with an error, rolled
   * back, instead of waiting on a lock until the watchdog ends the process and leaves an
   * execution "outcome unknown". Answers how many statements were cancelled.
   */
  async cancelInFlight(): Promise<number> {
    const pidsByUrl = new Map<string, number[]>();
    for (const [client, url] of this.inUse) {
      const pid = (client as pg.PoolClient & { processID?: number }).processID;
      if (pid) pidsByUrl.set(url, [...(pidsByUrl.get(url) ?? []), pid]);
    }
    let cancelled = 0;
    await Promise.allSettled(
      [...pidsByUrl].map(async ([url, pids]) => {
        const canceller = new pg.Client({
          connectionString: url,
          application_name: BOT_APPLICATION_NAME,
          connectionTimeoutMillis: 3000,
        });
        canceller.on('error', () => undefined);
        try {
          await canceller.connect();
          const { rows } = await canceller.query<{ n: number }>(
            // Only statements running now: an idle connection has nothing to cancel.
            `SELECT count(*) FILTER (WHERE pg_cancel_backend(a.pid))::int AS n
               FROM unnest($1::int[]) AS wanted(pid) JOIN pg_stat_activity a ON a.pid = wanted.pid
              WHERE a.state = 'active'`,
            [pids],
          );
          cancelled += rows[0]?.n ?? 0;
        } finally {
          await canceller.end().catch(() => undefined);
        }
      }),
    );
    return cancelled;
  }

  readOnly(target: Target): pg.Pool {
    let pool = this.pools.get(target.name);
    if (!pool) {
      pool = this.track(createPool(target.url, target, this.logger), target.url);
      this.pools.set(target.name, pool);
    }
    return pool;
  }

  /**
   * Connections for previews and approved actions. They use the target's remediation
   * credentials when configured (a role allowed to write and signal, kept apart from the
   * diagnostics role), else the diagnostics URL. A target naming remediation credentials
   * that are not set has none: the person is told why (never the diagnostics URL instead).
   */
  remediation(target: Target): pg.Pool {
    const unavailable = actionsUnavailableText(target);
    if (unavailable) throw new UserError(unavailable);
    let pool = this.remediationPools.get(target.name);
    if (!pool) {
      const url = target.remediationUrl ?? target.url;
      pool = this.track(createPool(url, target, this.logger, REMEDIATION_POOL_MAX), url);
      this.remediationPools.set(target.name, pool);
    }
    return pool;
  }

  async closeAll(): Promise<void> {
    const pools = [...this.pools.values(), ...this.remediationPools.values()];
    this.pools.clear();
    this.remediationPools.clear();
    await Promise.allSettled(pools.map((pool) => pool.end()));
  }
}

/** Connections that died, with why: a dead one must not be asked to finish anything. */
const lostConnections = new WeakMap<pg.ClientBase, Error>();

/** Why this target connection died, if it did (see the 'connect' listener below). */
export function connectionLostError(client: pg.ClientBase): Error | undefined {
  return lostConnections.get(client);
}

function createPool(url: string, target: Target, logger?: Logger, max?: number): pg.Pool {
  const { settings } = target;
  const pool = new pg.Pool({
    connectionString: url,
    application_name: BOT_APPLICATION_NAME,
    max: max ?? settings.poolMax,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    query_timeout: settings.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    idleTimeoutMillis: 10_000,
    keepAlive: true,
    allowExitOnIdle: true,
  });
  pool.on('connect', (client) => {
    // A connection that dies while checked out (its backend terminated, the server stopped)
    // emits 'error' on the client, where the pool's idle listener is not: unhandled, that
    // event would end the process. Every client gets a listener here, the one place every
    // connection passes, so no caller can forget one; the query in flight fails with the
    // same error and its caller reports it ("connection lost (…)").
    client.on('error', (err) => {
      lostConnections.set(client, err);
      logger?.debug({ target: target.name, err }, 'connection to target lost');
    });
    // An application_name in the target's URL would override ours, and the bot recognizes
    // its own sessions by that name: set it on every new connection.
    client.query(`SET application_name = '${BOT_APPLICATION_NAME}'`).catch(() => undefined);
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would
  // crash the process. The next checkout reconnects. While the pool is closing, its clients
  // are still disconnecting and a server shutting down at the same moment is not news.
  pool.on('error', (err) => {
    if (!pool.ending) logger?.warn({ target: target.name, err }, 'idle connection to target lost');
  });
  return pool;
}
