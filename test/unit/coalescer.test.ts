import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/concurrency/coalescer.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('Coalescer', () => {
  it('shares a run among callers that asked before it started, and never hands out an older one', async () => {
    let now = 0;
    const coalescer = new Coalescer<number>(() => now);
    const runs: Array<ReturnType<typeof deferred<number>>> = [];
    const start = () => {
      const run = deferred<number>();
      runs.push(run);
      return run.promise;
    };
    const first = coalescer.run('prod', 0, start);
    await Promise.resolve();
    await Promise.resolve();
    expect(runs).toHaveLength(1);
    now = 10;
    // Asked after the first run started: must wait for a fresh one, shared with the others.
    const second = coalescer.run('prod', 5, start);
    const third = coalescer.run('prod', 6, start);
    runs[0]!.resolve(1);
    expect(await first).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(runs).toHaveLength(2);
    now = 20;
    runs[1]!.resolve(2);
    expect(await second).toBe(2);
    expect(await third).toBe(2);
    // Other keys never wait for each other.
    const other = coalescer.run('staging', 30, start);
    await new Promise((resolve) => setTimeout(resolve, 0));
    runs[2]!.resolve(3);
    expect(await other).toBe(3);
  });

  it('shares a failure with those who waited for that run, and starts afresh after it', async () => {
    const coalescer = new Coalescer<number>();
    const failing = coalescer.run('prod', performance.now(), () => Promise.reject(new Error('boom')));
    const sharing = coalescer.run('prod', performance.now(), () => Promise.resolve(6));
    await expect(failing).rejects.toThrow('boom');
    await expect(sharing).rejects.toThrow('boom');
    expect(await coalescer.run('prod', performance.now(), () => Promise.resolve(7))).toBe(7);
  });
});
