import pg from 'pg';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import { type HealthRunOptions, runHealthCheck } from '../../src/health/engine.js';
import { parseThresholdOverrides } from '../../src/health/thresholds.js';
import type { Finding, HealthReport } from '../../src/health/types.js';
import { TargetPools } from '../../src/targets/pools.js';
import { BOT_APPLICATION_NAME, type Target } from '../../src/targets/target.js';

/** Runs the engine once with a fresh pool, as the CLI does. */
export async function health(
  target: Target,
  options: HealthRunOptions & { thresholds?: Record<string, string> } = {},
): Promise<HealthReport> {
  const pools = new TargetPools();
  try {
    const thresholdOverrides = options.thresholds
      ? parseThresholdOverrides(Object.entries(options.thresholds), HEALTH_CHECKS, 'test')
      : options.thresholdOverrides;
    return await runHealthCheck(target, pools.readOnly(target), { ...options, thresholdOverrides });
  } finally {
    await pools.closeAll();
  }
}

export function finding(report: HealthReport, id: string): Finding {
  const found = report.findings.find((candidate) => candidate.id === id);
  if (!found)
    throw new Error(`no finding ${id} in report (status ${report.status}: ${report.unreachable ?? ''})`);
  return found;
}

/**
 * Cumulative statistics reach the views asynchronously (PG 14's collector, PG 15+'s flush
 * interval): re-run one check until it reports what the fault should produce.
 */
export async function findingEventually(
  target: Target,
  id: string,
  accept: (finding: Finding) => boolean,
  options: { thresholds?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Finding> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: Finding | undefined;
  while (Date.now() < deadline) {
    last = finding(await health(target, { only: [id], thresholds: options.thresholds }), id);
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`finding ${id} never matched; last: ${JSON.stringify(last)}`);
}

export { BOT_APPLICATION_NAME, pg };
