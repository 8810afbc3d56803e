import pg from 'pg';
import { UserError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ConnectionBudget } from './connectionBudget.js';
import { actionsUnavailableText, BOT_APPLICATION_NAME, type Target } from './target.js';

/** Slack for network stalls the server-side statement_timeout cannot see. */
const CLIENT_TIMEOUT_MARGIN_MS = 2000;

/** Remediations run one at a time per target; the second connection is for the re-check. */
const REMEDIATION_POOL_MAX = 2;

/** How long an idle connection stays open, unless the target is kept warm (see TargetPoolOptions.warmMs). */
const IDLE_TIMEOUT_MS = 10_000;

export interface TargetPoolOptions {
  /**
   * The process's connection budget (TARGET_CONNECTION_BUDGET): every connection these pools
   * open holds one of its slots. Without one, each pool opens up to its target's pool_max.
   */
  budget?: ConnectionBudget;
  /**
   * Targets whose read-only pool keeps its connections open between scheduled runs, and for
   * how long after their last use (longer than the schedule's interval): a run on new
   * connections costs the target's server about twice the CPU of one on open connections.
   * The budget still reclaims them, last of the idle ones, when someone waits for a slot.
   */
  warmMs?: (target: Target) => number | undefined;
}

/** A pool and when it was last given a connection back (what the budget reclaims first). */
interface PoolEntry {
  pool: pg.Pool;
  lastUsed: number;
  warm: boolean;
  /** Ends a warm pool left unused for longer than its schedule's interval. */
  coldTimer?: NodeJS.Timeout;
  /** Resolves once every connection the pool opened is closed and its slots are back. */
  drained?: () => Promise<void>;
}

/**
 * One small read-only pool per target, opened on first use, and a separate remediation pool
 * for approved actions. Pools are the only way the bot talks to targets, so the application
 * name, timeouts and the connection budget are applied in one place.
 */
export class TargetPools {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly remediationPools = new Map<string, PoolEntry>();
  /** Connections checked out now, with the URL they came from (see cancelInFlight). */
  private readonly inUse = new Map<pg.PoolClient, string>();
  /** Pools opened for one job (see scope); a stopping worker cancels their statements too. */
  private readonly scopes = new Set<TargetPools>();
  private readonly unregister?: () => void;
  /** Set by closeAll: a pool closed since is not reopened for anyone still holding it. */
  private closed = false;

  constructor(
    private readonly logger?: Logger,
    private readonly options: TargetPoolOptions = {},
  ) {
    this.unregister = options.budget?.addReclaimer(() => this.reclaimIdle());
  }

  /**
   * Pools of their own for one piece of work (a fleet run's target), closed by its closeAll,
   * sharing this one's budget and seen by this one's cancelInFlight: a stopping worker
   * cancels a fleet's statements as it does a single run's.
   */
  scope(): TargetPools {
    const { warmMs: _notWarm, ...shared } = this.options;
    const scoped = new TargetPools(this.logger, shared);
    this.scopes.add(scoped);
    const close = scoped.closeAll.bind(scoped);
    scoped.closeAll = async () => {
      this.scopes.delete(scoped);
      await close();
    };
    return scoped;
  }

  private track(entry: PoolEntry, url: string): PoolEntry {
    const { pool } = entry;
    pool.on('acquire', (client) => {
      this.inUse.set(client, url);
      if (entry.coldTimer) clearTimeout(entry.coldTimer);
      entry.coldTimer = undefined;
    });
    pool.on('release', (_err, client) => {
      this.inUse.delete(client);
      entry.lastUsed = performance.now();
    });
    pool.on('remove', (client) => this.inUse.delete(client));
    return entry;
  }

  /**
   * Cancels the statement each checked-out connection is running (pg_cancel_backend, from a
   * connection of its own per target): a stopping worker's jobs then end with an error, rolled
   * back, instead of waiting on a lock until the watchdog ends the process and leaves an
   * execution "outcome unknown". Answers how many statements were cancelled, in this one's
   * scopes too.
   */
  async cancelInFlight(): Promise<number> {
    const pidsByUrl = new Map<string, number[]>();
    for (const [client, url] of this.inUse) {
      const pid = (client as pg.PoolClient & { processID?: number }).processID;
      if (pid) pidsByUrl.set(url, [...(pidsByUrl.get(url) ?? []), pid]);
    }
    let cancelled = 0;
    await Promise.allSettled([
      ...[...this.scopes].map(async (scoped) => {
        cancelled += await scoped.cancelInFlight();
      }),
      ...[...pidsByUrl].map(async ([url, pids]) => {
        // Outside the budget on purpose: a stop must not wait for a slot to cancel what holds them.
        const canceller = new pg.Client({
          connectionString: withoutApplicationName(url),
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
    ]);
    return cancelled;
  }

  readOnly(target: Target): pg.Pool {
    let entry = this.pools.get(target.name);
    if (!entry) {
      entry = this.open(target.url, target, target.settings.poolMax, this.options.warmMs?.(target), () =>
        this.readOnly(target),
      );
      this.pools.set(target.name, entry);
    }
    return entry.pool;
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
    let entry = this.remediationPools.get(target.name);
    if (!entry) {
      entry = this.open(target.remediationUrl ?? target.url, target, REMEDIATION_POOL_MAX, undefined, () =>
        this.remediation(target),
      );
      this.remediationPools.set(target.name, entry);
    }
    return entry.pool;
  }

  /**
   * A new pool. `reopen` answers the pool now in its place: a pool closed while idle (for a
   * waiter, or its schedule gone quiet) may still be held by a caller between two checkouts
   * (a procedure's steps, a verification), whose next checkout is served by its successor.
   */
  private open(
    url: string,
    target: Target,
    max: number,
    warmMs: number | undefined,
    reopen: () => pg.Pool,
  ): PoolEntry {
    const pool = createPool(url, target, this.logger, max, warmMs);
    const entry: PoolEntry = { pool, lastUsed: performance.now(), warm: warmMs !== undefined };
    if (warmMs !== undefined) {
      // The connections kept (min: max) are closed once no scheduled run has used them for
      // longer than the schedule's interval: a schedule removed or disabled leaves nothing open.
      pool.on('release', () => {
        if (entry.coldTimer) clearTimeout(entry.coldTimer);
        entry.coldTimer = setTimeout(() => this.closeIfIdle(entry), warmMs);
        entry.coldTimer.unref();
      });
    }
    if (this.options.budget)
      entry.drained = budgetPool(pool, this.options.budget, max, () => (this.closed ? undefined : reopen()));
    return this.track(entry, url);
  }

  /**
   * Closes the idle pool the budget can best spare: the one unused for longest, pools kept
   * warm for a schedule last. Only pools whose every connection is idle: a connection in use
   * is given back when its work ends, and then its pool is idle too.
   */
  private reclaimIdle(): boolean {
    const idle = [...this.pools.values(), ...this.remediationPools.values()]
      .filter(({ pool }) => isIdle(pool) && pool.totalCount > 0)
      .sort((a, b) => Number(a.warm) - Number(b.warm) || a.lastUsed - b.lastUsed);
    const spared = idle[0];
    if (!spared) return false;
    this.closeIfIdle(spared);
    return true;
  }

  private closeIfIdle(entry: PoolEntry): void {
    if (!isIdle(entry.pool)) return;
    if (entry.coldTimer) clearTimeout(entry.coldTimer);
    // Forgotten first: the next use opens a new pool rather than get this closing one.
    for (const map of [this.pools, this.remediationPools])
      for (const [name, held] of map) if (held === entry) map.delete(name);
    entry.pool.end().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const entries = [...this.pools.values(), ...this.remediationPools.values()];
    this.pools.clear();
    this.remediationPools.clear();
    for (const entry of entries) if (entry.coldTimer) clearTimeout(entry.coldTimer);
    await Promise.allSettled([
      // pg's end() resolves before the last socket has closed; the slots come back after.
      ...entries.map(async ({ pool, drained }) => {
        await pool.end();
        await drained?.();
      }),
      ...[...this.scopes].map((scoped) => scoped.closeAll()),
    ]);
    this.unregister?.();
  }
}

function isIdle(pool: pg.Pool): boolean {
  return !pool.ending && pool.idleCount === pool.totalCount && pool.waitingCount === 0;
}

/**
 * Makes `pool` hold a budget slot for each connection it opens, up to `limit`. The pool's
 * own `max` follows the slots it holds, so when the budget is short its callers share the
 * connections it has (queued by pg as they would be at pool_max) instead of each waiting for
 * a slot of their own. Only a pool holding no slot waits in the budget's line: one that holds
 * some never waits there while holding them, which keeps a fleet from deadlocking with
 * itself. Slots are given back as connections close (idle timeout, error, end). Answers a
 * function resolving once the pool holds no slot (after end(): every connection closed).
 */
function budgetPool(
  pool: pg.Pool,
  budget: ConnectionBudget,
  limit: number,
  successor: () => pg.Pool | undefined,
): () => Promise<void> {
  let slots = 0;
  let drainers: Array<() => void> = [];
  pool.options.max = 0;
  // Gives back the slots no connection needs: none open for them and nobody queued for one.
  const settle = () => {
    while (slots > pool.totalCount && (pool.waitingCount === 0 || pool.ending)) {
      slots--;
      pool.options.max = slots;
      budget.release();
    }
    if (slots === 0) {
      for (const drained of drainers) drained();
      drainers = [];
    }
  };
  const grow = () => {
    if (slots >= limit) {
      budget.release();
      return;
    }
    slots++;
    pool.options.max = slots;
  };
  pool.on('remove', settle);
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const checkout = async (): Promise<pg.PoolClient> => {
    const next = pool.ending ? successor() : undefined;
    // Closed while idle: its successor serves, and its client is released there.
    if (next && next !== pool) return next.connect();
    if (!pool.ending && pool.idleCount === 0 && slots < limit) {
      if (slots === 0) {
        await budget.acquire();
        grow();
      } else if (budget.tryAcquire()) grow();
    }
    try {
      return await connect();
    } finally {
      settle();
    }
  };
  type Callback = (
    err: Error | undefined,
    client?: pg.PoolClient,
    done?: (release?: unknown) => void,
  ) => void;
  // The callback form too: pg.Pool#query checks out through it.
  pool.connect = ((callback?: Callback) => {
    if (!callback) return checkout();
    checkout().then(
      (client) => callback(undefined, client, (release) => client.release(release as boolean)),
      (err: Error) => callback(err, undefined, () => undefined),
    );
    return undefined;
  }) as typeof pool.connect;
  return () => {
    settle();
    return slots === 0 ? Promise.resolve() : new Promise<void>((resolve) => void drainers.push(resolve));
  };
}

/** Connections that died, with why: a dead one must not be asked to finish anything. */
const lostConnections = new WeakMap<pg.ClientBase, Error>();

/** Why this target connection died, if it did (see the 'connect' listener below). */
export function connectionLostError(client: pg.ClientBase): Error | undefined {
  return lostConnections.get(client);
}

/**
 * The target's URL without an application_name of its own. pg lets the URL's parameters
 * override the config's, and the bot recognizes its own sessions by its name (it never
 * signals them): ours must be the one each connection starts with. Sent in the startup
 * message, it needs no statement of its own, which would race the caller's first query on
 * the new connection (pg deprecates a query sent while another runs; pg@9 removes it).
 */
function withoutApplicationName(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('application_name')) return url;
  parsed.searchParams.delete('application_name');
  return parsed.toString();
}

function createPool(
  url: string,
  target: Target,
  logger: Logger | undefined,
  max: number,
  warmMs?: number,
): pg.Pool {
  const { settings } = target;
  const pool = new pg.Pool({
    connectionString: withoutApplicationName(url),
    application_name: BOT_APPLICATION_NAME,
    max,
    // Kept warm: its connections outlive the idle timeout, until its schedule stops using
    // them. All of them: a run's second lane on a new connection costs the server most of
    // what a cold run does (bench/warmConnections.ts).
    ...(warmMs !== undefined ? { min: max } : {}),
    connectionTimeoutMillis: settings.connectTimeoutMs,
    query_timeout: settings.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
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
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would
  // crash the process. The next checkout reconnects. While the pool is closing, its clients
  // are still disconnecting and a server shutting down at the same moment is not news.
  pool.on('error', (err) => {
    if (!pool.ending) logger?.warn({ target: target.name, err }, 'idle connection to target lost');
  });
  return pool;
}
