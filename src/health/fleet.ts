import { UserError } from '../errors.js';
import { NO_TARGETS, type TargetRegistry } from '../targets/registry.js';
import type { Target } from '../targets/target.js';
import { namesText, plural } from '../text.js';
import type { CheckStatus, Finding, HealthReport, ReportStatus } from './types.js';
import { formatDuration } from './units.js';

/** Which targets one fleet run checks: every configured one, or those carrying a tag. */
export type FleetSelector = { kind: 'all' } | { kind: 'tag'; tag: string };

export const DEFAULT_FLEET_CONCURRENCY = 8;

/**
 * A target as a fleet run checks it: on one connection (its checks one after another). The
 * fleet is already parallel across targets, and a second connection per target costs that
 * target another log-in (SCRAM: CPU on both ends) for no gain once the fleet's lanes are full:
 * bench/fleet.ts measured 50 targets 8 at a time as fast or up to 27 % faster this way, on half
 * the connections.
 */
export function asFleetMember(target: Target): Target {
  return { ...target, settings: { ...target.settings, poolMax: 1 } };
}

/** How a fleet is named on a command line and in Slack: `all`, or `tag:production`. */
export function fleetLabel(selector: FleetSelector): string {
  return selector.kind === 'all' ? 'all targets' : `tag:${selector.tag}`;
}

/** The targets a selector names, in configuration order; a clear error when there are none. */
/** Every tag the targets carry, sorted: what a mistyped tag is answered with. */
export function knownTags(targets: readonly Target[]): string[] {
  return [...new Set(targets.flatMap((target) => target.tags))].sort();
}

export function selectFleet(registry: TargetRegistry, selector: FleetSelector): Target[] {
  const targets = registry.list();
  if (targets.length === 0) throw new UserError(NO_TARGETS);
  if (selector.kind === 'all') return targets;
  const tagged = targets.filter((target) => target.tags.includes(selector.tag));
  if (tagged.length > 0) return tagged;
  const known = knownTags(targets);
  throw new UserError(
    known.length > 0
      ? `No target has the tag "${selector.tag}". Known tags: ${namesText(known)}.`
      : `No target has the tag "${selector.tag}": no target has any tag. Give targets tags in the targets file (tags: [production]).`,
  );
}

/**
 * Runs `run` for every target, at most `concurrency` at once, and answers the results in the
 * targets' order. `run` should not throw for database trouble (the health engine does not):
 * a failure (the state database, say) ends the fleet run once the targets in flight are done.
 * The fleet's connections are at most `concurrency` × the targets' pool size, as long as
 * `run` closes its target's connections before it resolves, and never more than the
 * process's connection budget (targets/connectionBudget.ts) when its pools hold one.
 */
export async function runFleet<T, R>(
  targets: readonly T[],
  concurrency: number,
  run: (target: T) => Promise<R>,
  onDone?: (result: R, finished: number) => void,
): Promise<R[]> {
  const results = new Array<R>(targets.length);
  let next = 0;
  let finished = 0;
  let failed = false;
  const lane = async () => {
    // After a failure no lane starts another target, and the ones running are waited for:
    // a fleet run never reports failure while its checks still hold connections.
    while (next < targets.length && !failed) {
      const index = next++;
      try {
        results[index] = await run(targets[index] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
      finished++;
      onDone?.(results[index] as R, finished);
    }
  };
  const lanes = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(concurrency, targets.length)) }, lane),
  );
  const failure = lanes.find((outcome) => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  return results;
}

const REPORT_ORDER: Record<ReportStatus, number> = { unreachable: 0, critical: 1, warn: 2, ok: 3 };
const FINDING_ORDER: Record<CheckStatus, number> = { critical: 0, error: 1, warn: 2, skipped: 3, ok: 4 };

/** Worst first, then by name: the order a fleet summary reads in. */
export function worstFirst<T extends { target: string; status: ReportStatus }>(reports: readonly T[]): T[] {
  return [...reports].sort(
    (a, b) => REPORT_ORDER[a.status] - REPORT_ORDER[b.status] || a.target.localeCompare(b.target),
  );
}

/** The worst status of the fleet: what its exit code and summary headline say. */
export function fleetStatus(statuses: readonly ReportStatus[]): ReportStatus {
  return statuses.reduce<ReportStatus>((a, b) => (REPORT_ORDER[b] < REPORT_ORDER[a] ? b : a), 'ok');
}

/** A report's problem findings, worst first (critical, error, warn). */
function problemFindings(report: HealthReport): Finding[] {
  return report.findings
    .filter((f) => f.status === 'critical' || f.status === 'error' || f.status === 'warn')
    .sort((a, b) => FINDING_ORDER[a.status] - FINDING_ORDER[b.status]);
}

/** Problem checks named per target; the rest are counted (each target's report has them all). */
const FINDINGS_SHOWN = 3;

/** What went wrong on one target, in a line: its worst checks, or why it could not be reached. */
export function worstFindingsText(report: HealthReport): string {
  if (report.unreachable) return report.unreachable;
  const problems = problemFindings(report);
  const named = problems.slice(0, FINDINGS_SHOWN).map((f) => `${f.id} (${f.status})`);
  const more = problems.length - named.length;
  return `${named.join(', ')}${more > 0 ? `, +${more} more` : ''}`;
}

/** How many targets are at each status, worst first: `1 critical, 2 warn, 47 ok`. */
export function statusCounts(statuses: readonly ReportStatus[]): string {
  const order: ReportStatus[] = ['unreachable', 'critical', 'warn', 'ok'];
  return order
    .map((status) => [status, statuses.filter((s) => s === status).length] as const)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
}

/**
 * Whether the fleet's targets had to wait for the process's connection budget, in a line
 * (`4 targets waited for a target connection slot, up to 2.1 s`); undefined when none did. Waits are
 * not target time, so a slow-looking fleet run says where its time went.
 */
export function connectionWaitText(
  reports: readonly Pick<HealthReport, 'connectionWaitMs'>[],
): string | undefined {
  const waits = reports.map((report) => report.connectionWaitMs ?? 0).filter((ms) => ms > 0);
  if (waits.length === 0) return undefined;
  const longest = formatDuration(Math.max(...waits));
  return `${plural(waits.length, 'target')} waited for a target connection slot (TARGET_CONNECTION_BUDGET), up to ${longest}`;
}

/**
 * How many targets a fleet checks at once, said as it is: FLEET_CONCURRENCY, unless the
 * connection budget is smaller (each target holds one connection of it), and then the budget
 * named, so `TARGET_CONNECTION_BUDGET=2` does not read as 8 running; a fleet no wider than
 * that is checked all at once.
 */
export function fleetPaceText(concurrency: number, connectionBudget: number, targets?: number): string {
  // "8 at a time" for a fleet of one reads as if eight ran.
  if (targets !== undefined && targets <= Math.min(concurrency, connectionBudget)) return 'all at once';
  return connectionBudget < concurrency
    ? `at most ${connectionBudget} at a time: TARGET_CONNECTION_BUDGET`
    : `${concurrency} at a time`;
}

/**
 * `all` or `tag:<t>` as a fleet, where a target name would go (`--target all`, `/runbook
 * health tag:production`); undefined for a target's name. Target names cannot hold a colon,
 * and a target actually named `all` keeps its name.
 */
export function fleetSelectorFromWord(word: string, registry: TargetRegistry): FleetSelector | undefined {
  if (word.startsWith('tag:')) {
    const tag = word.slice('tag:'.length).trim();
    if (!tag) throw new UserError('Name the tag after "tag:", e.g. tag:production.');
    return { kind: 'tag', tag };
  }
  if (word === 'all' && !registry.names().includes('all')) return { kind: 'all' };
  return undefined;
}
