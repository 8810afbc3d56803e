/**
 * Shares one run of an expensive, idempotent computation among the callers that ask for the
 * same key at about the same time: fifty people typing `/runbook health prod` in the same
 * minute get one health check of prod, not fifty.
 *
 * Freshness: a caller only shares a run that started after the caller asked (`askedAt`), so
 * no one receives a report older than their command. Callers arriving while a run is in
 * flight wait for the next one, which starts when the current one ends and is shared by all
 * of them; at most two runs per key exist at a time.
 */
export class Coalescer<T> {
  private readonly running = new Map<string, { startedAt: number; result: Promise<T> }>();
  private readonly next = new Map<string, Promise<T>>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  run(key: string, askedAt: number, start: () => Promise<T>): Promise<T> {
    const current = this.running.get(key);
    if (current && current.startedAt >= askedAt) return current.result;
    const queued = this.next.get(key);
    if (queued) return queued;
    const previous = current?.result.catch(() => undefined) ?? Promise.resolve();
    const result = previous.then(() => {
      this.next.delete(key);
      const run = { startedAt: this.clock(), result: start() };
      this.running.set(key, run);
      const clear = () => {
        if (this.running.get(key) === run) this.running.delete(key);
      };
      run.result.then(clear, clear);
      return run.result;
    });
    this.next.set(key, result);
    return result;
  }
}
