import { describe, expect, it } from 'vitest';
import { MAX_WARM_INTERVAL_MS, warmPeriods } from '../../src/schedules/warmConnections.js';
import {
  type BudgetWait,
  ConnectionBudget,
  reportingWaits,
  timingWaits,
} from '../../src/targets/connectionBudget.js';

describe('the connection budget', () => {
  it('serves waiters in order of arrival, tells each its place, and hands a released slot on', async () => {
    const budget = new ConnectionBudget(1);
    expect(budget.tryAcquire()).toBe(true);
    const heard: Record<string, number[]> = { a: [], b: [] };
    const granted: string[] = [];
    const wait = (name: 'a' | 'b') =>
      reportingWaits(
        (wait: BudgetWait) => heard[name]!.push(wait.position),
        () => budget.acquire().then(() => granted.push(name)),
      );
    const a = wait('a');
    const b = wait('b');
    expect(budget.waiting).toBe(2);
    // Someone arriving now does not jump the line, even when a slot comes free for a moment.
    expect(budget.tryAcquire()).toBe(false);
    budget.release();
    await a;
    expect(granted).toEqual(['a']);
    expect(budget.tryAcquire()).toBe(false);
    budget.release();
    await b;
    expect(granted).toEqual(['a', 'b']);
    expect(heard).toEqual({ a: [1, 0], b: [2, 1, 0] });
    expect(budget.inUse).toBe(1);
    budget.release();
    expect(budget.inUse).toBe(0);
    expect(budget.peakInUse).toBe(1);
    expect(() => budget.release()).toThrow(/released more often/);
  });

  it('asks idle pools to close when someone waits, and says how long a caller waited', async () => {
    const budget = new ConnectionBudget(1);
    expect(budget.tryAcquire()).toBe(true);
    let asked = 0;
    budget.addReclaimer(() => {
      asked++;
      // The idle connection closes a moment later, as a pool's end() does.
      setImmediate(() => budget.release());
      return true;
    });
    const outer: number[] = [];
    const { waitedMs } = await reportingWaits(
      (wait) => outer.push(wait.position),
      () => timingWaits(() => budget.acquire()),
    );
    expect(asked).toBe(1);
    expect(outer).toEqual([1, 0]);
    expect(waitedMs).toBeGreaterThanOrEqual(0);
    const free = await timingWaits(async () => {
      budget.release();
      return budget.acquire();
    });
    expect(free.waitedMs).toBe(0);
  });

  it('says how long a caller waited also when its connection then fails (the wait is not the target time)', async () => {
    const budget = new ConnectionBudget(1);
    expect(budget.tryAcquire()).toBe(true);
    setTimeout(() => budget.release(), 30);
    const refused = await timingWaits(async () => {
      await budget.acquire();
      throw new Error('connection refused');
    });
    expect(refused.ok).toBe(false);
    expect(refused.ok ? undefined : (refused.error as Error).message).toBe('connection refused');
    expect(refused.waitedMs).toBeGreaterThanOrEqual(20);
  });

  it('refuses a size below one', () => {
    expect(() => new ConnectionBudget(0)).toThrow(/must be ≥ 1/);
  });
});

describe('warm connections for scheduled targets', () => {
  it('keeps no more targets warm than asked, the most frequently checked first', () => {
    const schedules = [
      { target: 'hourly', cron: '0 * * * *', tz: 'UTC' },
      { target: 'every-minute', cron: '* * * * *', tz: 'UTC' },
      { target: 'five-min', cron: '*/5 * * * *', tz: 'UTC' },
    ];
    expect([...warmPeriods(schedules, Date.now(), 2).keys()]).toEqual(['every-minute', 'five-min']);
    expect(warmPeriods(schedules).size).toBe(3);
  });

  it('keeps a target warm for the longest gap of its most frequent schedule, and not past an hour', () => {
    const periods = warmPeriods([
      { target: 'every-second', cron: '*/1 * * * * *', tz: 'UTC' },
      { target: 'five-min', cron: '*/5 * * * *', tz: 'Europe/Berlin' },
      { target: 'five-min', cron: '0 * * * *', tz: 'UTC' },
      { target: 'uneven', cron: '0,10 * * * *', tz: 'UTC' },
      { target: 'daily', cron: '0 9 * * *', tz: 'UTC' },
    ]);
    expect(Object.fromEntries(periods)).toEqual({
      'every-second': 1000 + 60_000,
      'five-min': 300_000 + 60_000,
      // 50 minutes from :10 to the next :00.
      uneven: 3000_000 + 60_000,
    });
    expect(MAX_WARM_INTERVAL_MS).toBe(3600_000);
  });
});
