import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Sixteen: a fleet run's default width (8 targets, one connection each) fits in it beside a
 * few single runs on two connections, and a few worker processes together stay far below a
 * stock server's max_connections of 100 (97 for non-superusers) even when every target lives
 * on one cluster.
 */
export const DEFAULT_CONNECTION_BUDGET = 16;

/**
 * What a caller waiting for a connection slot is told: when it starts waiting, at each move
 * in the line, and once more (position 0) when it has its slot.
 */
export interface BudgetWait {
  /** Callers ahead of this one, plus one: 1 means next; 0 once the slot is granted. */
  position: number;
  /** The budget's size (TARGET_CONNECTION_BUDGET). */
  size: number;
}

/** Hears about a wait of the code it runs (see reportingWaits): progress lines, logs. */
export type WaitListener = (wait: BudgetWait) => void;

const listeners = new AsyncLocalStorage<WaitListener>();

/**
 * Runs `work` with `listener` told of every wait for a connection slot that `work` causes,
 * however deep in the call the connection is asked for. A context rather than a parameter:
 * the engine and the procedure runner ask a pg.Pool for connections and know nothing of
 * budgets.
 */
export function reportingWaits<T>(listener: WaitListener, work: () => Promise<T>): Promise<T> {
  return listeners.run(listener, work);
}

/**
 * Runs `work` and answers how long it waited for connection slots, from its first wait to
 * its last grant (0 when it never waited), whether it succeeded or not: a target that refuses
 * the connection after a wait in line waited all the same, and that wait is not the target's
 * time. A listener around it still hears every wait.
 */
export async function timingWaits<T>(
  work: () => Promise<T>,
): Promise<{ ok: true; value: T; waitedMs: number } | { ok: false; error: unknown; waitedMs: number }> {
  const outer = listeners.getStore();
  let since: number | undefined;
  let waitedMs = 0;
  const waited = () => Math.round(waitedMs + (since === undefined ? 0 : performance.now() - since));
  try {
    const value = await listeners.run((wait) => {
      if (wait.position > 0) since ??= performance.now();
      else if (since !== undefined) {
        waitedMs += performance.now() - since;
        since = undefined;
      }
      outer?.(wait);
    }, work);
    return { ok: true, value, waitedMs: waited() };
  } catch (error) {
    return { ok: false, error, waitedMs: waited() };
  }
}

/**
 * Something holding slots for connections nobody uses right now (an idle pool), asked to
 * close them when a caller waits. Answers whether it started closing any; the slots come
 * back when the connections are closed.
 */
export type IdleReclaimer = () => boolean;

interface Waiter {
  grant: () => void;
  listener?: WaitListener;
  position: number;
}

/**
 * At most `size` target connections open at once across a process: every connection a
 * TargetPools opens takes a slot first and gives it back when it is closed (idle ones too,
 * since an idle connection is a backend on the target all the same). Waiters are served in
 * order of arrival. A caller that has to wait makes room first: idle pools are asked to
 * close (see IdleReclaimer), so connections kept warm never starve work that wants to run.
 *
 * No deadlock: only a pool that holds no slot waits here; a pool that holds one and wants
 * another takes it only if it is free, else its callers share the connections it has (see
 * BudgetedPool). Every slot is then held by a connection in use, which is given back when
 * its work ends, or by an idle one, which is reclaimed.
 */
export class ConnectionBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];
  private readonly reclaimers = new Set<IdleReclaimer>();
  /** Slots held longest at once: what a test or a bench compares with the size. */
  private peak = 0;
  private readonly observers = new Set<(state: { inUse: number; waiting: number }) => void>();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`connection budget must be ≥ 1, got ${size}`);
  }

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get peakInUse(): number {
    return this.peak;
  }

  /** Hears every change of the slots in use or the line's length (metrics, logs). */
  observe(observer: (state: { inUse: number; waiting: number }) => void): void {
    this.observers.add(observer);
  }

  private changed(): void {
    for (const observer of this.observers) observer({ inUse: this.used, waiting: this.waiters.length });
  }

  /** Registers a source of idle connections; the function returned unregisters it. */
  addReclaimer(reclaim: IdleReclaimer): () => void {
    this.reclaimers.add(reclaim);
    return () => this.reclaimers.delete(reclaim);
  }

  /** A slot if one is free now and nobody is waiting for one (waiters keep their turn). */
  tryAcquire(): boolean {
    if (this.used >= this.size || this.waiters.length > 0) return false;
    this.take();
    return true;
  }

  /** A slot, waiting in line for it if need be; the wait is told to the caller's listener. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    const listener = listeners.getStore();
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { grant: resolve, position: this.waiters.length + 1 };
      if (listener) waiter.listener = listener;
      this.waiters.push(waiter);
      listener?.({ position: waiter.position, size: this.size });
      this.changed();
      this.reclaim();
    });
  }

  release(): void {
    if (this.used === 0) throw new Error('connection budget released more often than acquired');
    const next = this.waiters.shift();
    if (!next) {
      this.used--;
      this.changed();
      return;
    }
    // The slot passes straight to the next in line: nobody arriving meanwhile can take it.
    next.grant();
    next.listener?.({ position: 0, size: this.size });
    this.waiters.forEach((waiter, index) => {
      waiter.position = index + 1;
      waiter.listener?.({ position: waiter.position, size: this.size });
    });
    this.changed();
    if (this.waiters.length > 0) this.reclaim();
  }

  private take(): void {
    this.used++;
    this.peak = Math.max(this.peak, this.used);
    this.changed();
  }

  /** Asks idle pools to close, one per waiter at most: enough to serve the line, no more. */
  private reclaim(): void {
    let wanted = this.waiters.length;
    for (const reclaim of this.reclaimers) {
      if (wanted <= 0) return;
      if (reclaim()) wanted--;
    }
  }
}
