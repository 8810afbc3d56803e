/**
 * Group commit for requests that each need a round trip: the first request is sent at once;
 * those that arrive while it is in flight wait for it and then go together in one batch.
 * Idle, nothing is delayed; under load, fifty commands cost a couple of round trips, not fifty.
 */
export class MicroBatcher<I, O> {
  private readonly pending: { item: I; resolve: (out: O) => void; reject: (err: unknown) => void }[] = [];
  private inFlight = 0;

  /**
   * `flush` answers one output per input, in order. A flush that throws fails every request
   * of its batch with that error.
   */
  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly limits: { maxBatch: number; maxInFlight: number } = { maxBatch: 100, maxInFlight: 2 },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.inFlight < this.limits.maxInFlight && this.pending.length > 0) {
      const batch = this.pending.splice(0, this.limits.maxBatch);
      this.inFlight += 1;
      Promise.resolve()
        .then(() => this.flush(batch.map((entry) => entry.item)))
        .then((outputs) => {
          if (outputs.length !== batch.length)
            throw new Error(`batch flush answered ${outputs.length} of ${batch.length} requests`);
          batch.forEach((entry, i) => {
            entry.resolve(outputs[i] as O);
          });
        })
        .catch((err: unknown) => {
          for (const entry of batch) entry.reject(err);
        })
        .finally(() => {
          this.inFlight -= 1;
          this.dispatch();
        });
    }
  }
}
