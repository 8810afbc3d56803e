import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../../src/concurrency/microBatcher.js';

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

describe('MicroBatcher', () => {
  it('sends a lone request at once and groups those that arrive while a batch is in flight', async () => {
    const batches: number[][] = [];
    const gate = deferred();
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await gate.promise;
        return items.map((item) => item * 10);
      },
      { maxBatch: 3, maxInFlight: 1 },
    );
    const first = batcher.submit(1);
    const rest = [2, 3, 4, 5].map((item) => batcher.submit(item));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1]]);
    gate.release();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('fails every request of a failed batch, and goes on with the next', async () => {
    let calls = 0;
    const batcher = new MicroBatcher<string, string>(async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('database gone');
      return items;
    });
    await expect(batcher.submit('a')).rejects.toThrow('database gone');
    await expect(batcher.submit('b')).resolves.toBe('b');
  });

  it('refuses a flush that answers the wrong number of outputs', async () => {
    const batcher = new MicroBatcher<string, string>(async () => []);
    await expect(batcher.submit('a')).rejects.toThrow('answered 0 of 1');
  });
});
