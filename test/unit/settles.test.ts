import { describe, expect, it } from 'vitest';
import { settlesWhile, settlesWithin } from '../../src/concurrency/withTimeout.js';
import { JobsInHand } from '../../src/jobs/jobsInHand.js';

const never = new Promise<void>(() => undefined);
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('settlesWithin / settlesWhile', () => {
  it('tells settled (either way) from still pending', async () => {
    expect(await settlesWithin(Promise.reject(new Error('no')), 50)).toBe(true);
    expect(await settlesWithin(never, 20)).toBe(false);
  });

  it('waits while the condition holds, and only the grace period once it does not', async () => {
    let up = true;
    setTimeout(() => {
      up = false;
    }, 60);
    expect(await settlesWhile(delay(150), () => up, 1000, 10)).toBe(true);
    // Holding, it waits well past the grace period.
    expect(await settlesWhile(delay(150), () => true, 20, 10)).toBe(true);
    up = false;
    expect(await settlesWhile(never, () => up, 50, 10)).toBe(false);
  });
});

describe('JobsInHand', () => {
  it('drains once every tracked job has settled, including one picked up while waiting', async () => {
    const inHand = new JobsInHand();
    const order: string[] = [];
    const slow = inHand.track(async () => {
      await delay(30);
      order.push('first');
    });
    const failing = inHand.track(async () => {
      await delay(10);
      throw new Error('job failed');
    });
    void slow({} as never, 'token').catch(() => undefined);
    void failing({} as never, 'token').catch(() => undefined);
    setTimeout(() => {
      void inHand
        .track(async () => {
          await delay(30);
          order.push('late');
        })({} as never, 'token')
        .catch(() => undefined);
    }, 20);
    expect(inHand.size).toBe(2);
    await inHand.drained();
    expect(order).toEqual(['first', 'late']);
    expect(inHand.size).toBe(0);
  });
});
