import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../logger.js';
import type { WorkerHeartbeatStore } from '../store/workerHeartbeats.js';

/** How often a worker records that it is alive. */
export const HEARTBEAT_INTERVAL_MS = 5000;
/** No heartbeat for this long: no worker is taking jobs. */
export const WORKER_STALE_MS = 30_000;
/** A bot asks the state database at most this often (commands answer from the last look). */
const PRESENCE_CACHE_MS = 2000;

/**
 * Records every HEARTBEAT_INTERVAL_MS that this worker process is alive, until stopped. A
 * failing beat (state database down) is logged once and retried at the next tick; the timer
 * never keeps the process alive by itself.
 */
export function startHeartbeat(store: WorkerHeartbeatStore, mode: string, logger: Logger): { stop(): void } {
  const worker = { id: randomUUID(), host: hostname(), pid: process.pid, mode };
  let failing = false;
  const beat = () => {
    store.beat(worker).then(
      () => {
        if (failing) logger.info('worker heartbeat recorded again');
        failing = false;
      },
      (err: unknown) => {
        if (!failing)
          logger.warn({ err }, 'worker heartbeat could not be recorded; bots will report no worker');
        failing = true;
      },
    );
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export type WorkerStatus = { up: true } | { up: false; lastSeenAgoMs?: number };

/**
 * Whether any worker is alive, as a bot sees it: a heartbeat within WORKER_STALE_MS. A
 * process that runs its own worker (`all` mode) is always answered "up".
 */
export class WorkerPresence {
  private cached?: { at: number; status: Promise<WorkerStatus> };
  private refreshing = false;

  constructor(
    private readonly store: WorkerHeartbeatStore,
    private readonly options: { localWorker: boolean },
  ) {}

  /**
   * Rejects when the state database cannot be asked. A look is answered for PRESENCE_CACHE_MS;
   * past half of that, the next caller still gets it and a new look starts in the background,
   * so under a steady stream of commands none waits for the state database here (a wait that
   * had come once every two seconds, on a whole batch of acknowledgements).
   */
  status(): Promise<WorkerStatus> {
    if (this.options.localWorker) return Promise.resolve({ up: true });
    const now = Date.now();
    const cached = this.cached;
    if (cached && now - cached.at < PRESENCE_CACHE_MS) {
      if (now - cached.at >= PRESENCE_CACHE_MS / 2 && !this.refreshing) this.refresh(now);
      return cached.status;
    }
    const status = this.look();
    // A failed look is not remembered: the next caller asks again.
    status.catch(() => {
      if (this.cached?.status === status) this.cached = undefined;
    });
    this.cached = { at: now, status };
    return status;
  }

  /** A look that replaces the cached one once answered (a failed one is dropped). */
  private refresh(startedAt: number): void {
    this.refreshing = true;
    const status = this.look();
    status
      .then(
        () => {
          // Dated when it was asked: it is never taken for fresher than it is.
          if (!this.cached || this.cached.at < startedAt) this.cached = { at: startedAt, status };
        },
        () => undefined,
      )
      .finally(() => {
        this.refreshing = false;
      });
  }

  private look(): Promise<WorkerStatus> {
    return this.store
      .lastSeenAgoMs()
      .then(
        (ago): WorkerStatus =>
          ago !== undefined && ago < WORKER_STALE_MS ? { up: true } : { up: false, lastSeenAgoMs: ago },
      );
  }

  /** "down" with the status when no worker is alive; undefined when one is, or when it cannot be told. */
  async down(): Promise<Extract<WorkerStatus, { up: false }> | undefined> {
    try {
      const status = await this.status();
      return status.up ? undefined : status;
    } catch {
      return undefined;
    }
  }
}

/** Why no worker counts as alive, in one line (for /readyz and logs). */
export function noWorkerReason(status: Extract<WorkerStatus, { up: false }>): string {
  return status.lastSeenAgoMs === undefined
    ? 'no worker has ever been seen (is a `worker` process running?)'
    : `no worker seen for ${Math.round(status.lastSeenAgoMs / 1000)} s (is a \`worker\` process running?)`;
}

/**
 * The answer to a request that was recorded and queued while no worker is alive: it says the
 * work has not started and when it will, instead of "Running…" followed by silence.
 */
export function queuedWithoutWorkerText(what: string, status: Extract<WorkerStatus, { up: false }>): string {
  const since =
    status.lastSeenAgoMs === undefined
      ? 'none has been seen'
      : `none seen for ${Math.round(status.lastSeenAgoMs / 1000)} s`;
  return (
    `:warning: ${what} is queued but has not started: runbook-bot's workers are down (${since}). ` +
    'It is recorded and runs when a worker is back; whoever runs runbook-bot should check its worker processes.'
  );
}
