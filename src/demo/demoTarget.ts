import { DEFAULT_TARGET_SETTINGS, type Target } from '../targets/target.js';

/**
 * The faults the demo induces are seconds old; production thresholds are minutes. The demo
 * target lowers the time-based ones (and says so) rather than making you wait ten minutes.
 */
export const DEMO_THRESHOLD_OVERRIDES: Record<string, string> = {
  'idle_in_transaction.warn': '1s',
  'long_running_queries.warn': '1s',
  'long_transactions.warn': '1s',
  'blocking_chains.warn': '1s',
  'ungranted_locks.min_wait': '1s',
};

/** The lowered thresholds as `check.key=value`: the terminal demo prints them, the console shows them. */
export function demoThresholdList(): string {
  return Object.entries(DEMO_THRESHOLD_OVERRIDES)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

export function demoTarget(url: string): Target {
  return {
    name: 'demo',
    description: 'embedded Postgres with live faults',
    url,
    tags: ['demo'],
    settings: { ...DEFAULT_TARGET_SETTINGS },
    thresholdOverrides: DEMO_THRESHOLD_OVERRIDES,
    source: 'the demo',
  };
}
