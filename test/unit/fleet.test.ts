import { describe, expect, it } from 'vitest';
import {
  connectionWaitText,
  fleetPaceText,
  fleetStatus,
  runFleet,
  statusCounts,
  worstFirst,
} from '../../src/health/fleet.js';

describe('runFleet', () => {
  it.each([1, 3, 8])(
    'never runs more than %i at once, and answers in the targets’ order',
    async (concurrency) => {
      let inFlight = 0;
      let most = 0;
      const finished: number[] = [];
      const targets = Array.from({ length: 20 }, (_, i) => i);
      const results = await runFleet(
        targets,
        concurrency,
        async (n) => {
          inFlight++;
          most = Math.max(most, inFlight);
          // Later targets finish first within a lane's wait: order must come from the index.
          await new Promise((resolve) => setImmediate(resolve));
          if (n % 2 === 0) await new Promise((resolve) => setImmediate(resolve));
          inFlight--;
          return n * 10;
        },
        (_result, count) => finished.push(count),
      );
      expect(most).toBe(concurrency);
      expect(results).toEqual(targets.map((n) => n * 10));
      expect(finished).toEqual(targets.map((_, i) => i + 1));
    },
  );

  it('on a failure starts no other target and waits for those in flight before failing', async () => {
    const started: number[] = [];
    let settled = 0;
    const outcome = runFleet([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      if (n === 1) throw new Error('state database gone');
      await new Promise((resolve) => setImmediate(resolve));
      settled++;
      return n;
    });
    await expect(outcome).rejects.toThrow('state database gone');
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(1);
  });

  it('runs nothing for no targets', async () => {
    expect(await runFleet([], 8, async () => 1)).toEqual([]);
  });
});

describe('fleet order and status', () => {
  it('puts the unreachable first, then critical, warn and ok, by name within each', () => {
    const rows = [
      { target: 'b', status: 'ok' as const },
      { target: 'c', status: 'warn' as const },
      { target: 'a', status: 'ok' as const },
      { target: 'd', status: 'unreachable' as const },
      { target: 'e', status: 'critical' as const },
    ];
    expect(worstFirst(rows).map((row) => row.target)).toEqual(['d', 'e', 'c', 'a', 'b']);
    expect(fleetStatus(rows.map((row) => row.status))).toBe('unreachable');
    expect(fleetStatus(['ok', 'warn', 'ok'])).toBe('warn');
    expect(fleetStatus([])).toBe('ok');
    expect(statusCounts(rows.map((row) => row.status))).toBe('1 unreachable, 1 critical, 1 warn, 2 ok');
  });
});

describe('fleet figures as said', () => {
  it('says the figure that holds: the connection budget when it is below FLEET_CONCURRENCY', () => {
    expect(fleetPaceText(8, 100)).toBe('8 at a time');
    expect(fleetPaceText(8, 8)).toBe('8 at a time');
    expect(fleetPaceText(8, 2)).toBe('at most 2 at a time: TARGET_CONNECTION_BUDGET');
    expect(fleetPaceText(8, 16, 1)).toBe('all at once');
    expect(fleetPaceText(8, 2, 3)).toBe('at most 2 at a time: TARGET_CONNECTION_BUDGET');
  });

  it('counts in the singular for one', () => {
    expect(connectionWaitText([{ connectionWaitMs: 1500 }])).toMatch(/^1 target waited/);
    expect(connectionWaitText([{ connectionWaitMs: 1500 }, { connectionWaitMs: 10 }])).toMatch(
      /^2 targets waited/,
    );
  });
});
