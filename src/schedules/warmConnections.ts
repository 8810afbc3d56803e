import { getNextMillis } from 'bullmq';

/**
 * Which targets keep a connection open between their scheduled runs, and for how long.
 *
 * A health run on new connections costs the target's server about twice the backend CPU of
 * one on open connections (backend start, authentication, catalog caches filled again;
 * bench/warmConnections.ts, figures in docs/contributing.md), so a target checked every few
 * minutes keeps its connections open. Past an hour between runs the saving is a fraction of a
 * second of CPU per hour, not worth backends and budget slots held all that time: such
 * schedules connect afresh.
 */

/** Schedules firing further apart than this connect afresh each time. */
export const MAX_WARM_INTERVAL_MS = 3600_000;
/** Kept open this much longer than the gap between fires: a fire picked up late still finds it. */
const WARM_MARGIN_MS = 60_000;
/** Fires looked at to find a schedule's longest gap (`0 9,17 * * *` has two). */
const FIRES_SAMPLED = 12;

export interface TimedSchedule {
  target: string;
  cron: string;
  tz: string;
}

/**
 * For each target with a schedule firing at most MAX_WARM_INTERVAL_MS apart, how long its
 * connection stays open after a run: the longest gap between its fires (over all its
 * schedules, the shortest such) plus a margin. At most `limit` targets, the most frequent.
 */
export function warmPeriods(
  schedules: readonly TimedSchedule[],
  now = Date.now(),
  limit = Number.POSITIVE_INFINITY,
): Map<string, number> {
  const periods = new Map<string, number>();
  for (const schedule of schedules) {
    const gap = longestGap(schedule, now);
    if (gap === undefined || gap > MAX_WARM_INTERVAL_MS) continue;
    const period = gap + WARM_MARGIN_MS;
    const current = periods.get(schedule.target);
    periods.set(schedule.target, current === undefined ? period : Math.min(current, period));
  }
  if (periods.size <= limit) return periods;
  // More warm targets than the connection budget can hold would only close each other's
  // connections to make room: the most frequently checked ones, which gain most, stay warm.
  return new Map([...periods].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).slice(0, limit));
}

function longestGap({ cron, tz }: TimedSchedule, now: number): number | undefined {
  let previous = getNextMillis(now, { pattern: cron, tz });
  if (previous === undefined) return undefined;
  let longest = 0;
  for (let i = 0; i < FIRES_SAMPLED; i++) {
    const next = getNextMillis(previous, { pattern: cron, tz });
    if (next === undefined) return undefined;
    longest = Math.max(longest, next - previous);
    // A cron firing hours apart is settled after its first gap.
    if (longest > MAX_WARM_INTERVAL_MS) return longest;
    previous = next;
  }
  return longest;
}
