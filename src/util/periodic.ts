/**
 * Runs `task` every `everyMs` until stopped, never two at once (a slow run makes the next tick
 * skip, not pile up); the timer never keeps the process alive by itself. `stop()` waits for the
 * run in progress, so a shutdown does not cut a sweep or a post in half.
 */
export function runPeriodically(everyMs: number, task: () => Promise<void>): { stop(): Promise<void> } {
  let current: Promise<void> | undefined;
  const timer = setInterval(() => {
    current ??= task().finally(() => {
      current = undefined;
    });
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await current;
    },
  };
}
