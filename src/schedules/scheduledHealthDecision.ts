import type { CheckStatus, HealthReport } from '../health/types.js';
import type { ScheduledHealthPostJob, StatusChange } from '../jobs/catalog.js';

/**
 * The scheduled-health decision: whether a scheduled run of a target's health check is
 * posted, and why. Only a change is worth a post (plus the first announcement of a problem,
 * a daily reminder while it lasts, and the all clear after it); everything else is silence.
 * Pure: the state it compares with is read and written by store/scheduledHealth.ts.
 */

/** A persisting problem is posted again after this long. */
export const DEFAULT_REMIND_AFTER_MS = 24 * 3600 * 1000;
/** The pseudo-check recording whether the target could be reached at all. */
const REACHABILITY_CHECK = 'reachability';

export type ScheduledDecision =
  | { post: false; reason: 'healthy' | 'unchanged' | 'stale' }
  | {
      post: true;
      kind: 'problem' | 'all-clear';
      reason: ScheduledHealthPostJob['reason'];
      changes: StatusChange[];
      /** When the problem was first announced; null for the first announcement. */
      problemSince: string | null;
    };

/** What the previous scheduled runs of a target left behind. */
export interface ScheduledState {
  checks: Map<string, { status: CheckStatus }>;
  /** Set while a posted problem has not been followed by an all clear. */
  problemSince: Date | null;
  lastPostedAt: Date | null;
}

/** One row of a target's scheduled state: a check (or reachability) and its status. */
export interface ScheduledItem {
  check: string;
  title: string;
  status: CheckStatus;
  summary: string;
}

const PROBLEM: ReadonlySet<CheckStatus> = new Set(['warn', 'critical', 'error']);
const isProblem = (status: CheckStatus | undefined) => status !== undefined && PROBLEM.has(status);

/** The findings of a report plus whether the target was reachable, as the state tracks them. */
function scheduledItems(report: HealthReport): ScheduledItem[] {
  const reachability: ScheduledItem = {
    check: REACHABILITY_CHECK,
    title: 'Target reachable',
    status: report.unreachable ? 'critical' : 'ok',
    summary: report.unreachable ?? 'reachable',
  };
  return [
    reachability,
    ...report.findings.map((finding) => ({
      check: finding.id,
      title: finding.title,
      status: finding.status,
      summary: finding.summary,
    })),
  ];
}

/**
 * Whether a scheduled run is posted, and why. A report that is not ok is posted when a
 * check's status changed to or from a problem (or a problem appeared), when the problem was
 * never announced, or when the last post is older than `remindAfterMs` (a daily reminder);
 * an ok report is posted once after a posted problem (the all clear). Anything else is
 * silence. An unreachable target says nothing about its checks, so only reachability is
 * compared then.
 */
export function decideScheduledPost(
  previous: ScheduledState | undefined,
  report: HealthReport,
  now: Date,
  remindAfterMs = DEFAULT_REMIND_AFTER_MS,
): ScheduledDecision {
  const changes: StatusChange[] = [];
  for (const item of scheduledItems(report)) {
    const before = previous?.checks.get(item.check)?.status;
    const changed = before === undefined ? isProblem(item.status) : before !== item.status;
    if (changed && (isProblem(before) || isProblem(item.status))) {
      changes.push({ check: item.check, title: item.title, from: before ?? null, to: item.status });
    }
  }
  const since = previous?.problemSince?.toISOString() ?? null;
  if (report.status === 'ok') {
    return since
      ? { post: true, kind: 'all-clear', reason: 'cleared', changes, problemSince: since }
      : { post: false, reason: 'healthy' };
  }
  if (changes.length > 0)
    return { post: true, kind: 'problem', reason: 'changed', changes, problemSince: since };
  if (!since) return { post: true, kind: 'problem', reason: 'unannounced', changes, problemSince: null };
  const lastPosted = previous?.lastPostedAt?.getTime() ?? 0;
  if (now.getTime() - lastPosted >= remindAfterMs) {
    return { post: true, kind: 'problem', reason: 'reminder', changes, problemSince: since };
  }
  return { post: false, reason: 'unchanged' };
}

/** A target's stored state, as the state database holds it between scheduled runs. */
export interface StoredScheduledState {
  lastStartedAt: Date | null;
  /** The fire (job id) last recorded, and what was decided for it. */
  lastFire: string | null;
  lastDecision: ScheduledDecision | null;
  problemSince: Date | null;
  lastPostedAt: Date | null;
  checks: Map<string, { status: CheckStatus }>;
}

/** The decision for one fire, and the state to store after it (none for a replay or a stale fire). */
export interface ScheduledRunVerdict {
  decision: ScheduledDecision;
  store?: {
    items: ScheduledItem[];
    problemSince: Date | null;
    /** Forget checks not in `items` (no longer run): not when the target was unreachable, which says nothing of them. */
    forgetOthers: boolean;
  };
}

/**
 * The decision for one fire of a target's schedule, given the stored state: a retry of the
 * fire last recorded replays its decision (a crash never posts twice or loses a post); a
 * fire that started before the one last recorded, finishing late, says nothing new.
 */
export function decideScheduledRun(
  stored: StoredScheduledState,
  report: HealthReport,
  fire: string,
  now: Date,
  remindAfterMs = DEFAULT_REMIND_AFTER_MS,
): ScheduledRunVerdict {
  if (stored.lastFire === fire && stored.lastDecision) return { decision: stored.lastDecision };
  if (stored.lastStartedAt && stored.lastStartedAt > new Date(report.startedAt))
    return { decision: { post: false, reason: 'stale' } };
  const previous: ScheduledState | undefined = stored.lastStartedAt
    ? { checks: stored.checks, problemSince: stored.problemSince, lastPostedAt: stored.lastPostedAt }
    : undefined;
  const decision = decideScheduledPost(previous, report, now, remindAfterMs);
  // A problem is dated from its first post, until the all clear.
  const problemSince = !decision.post
    ? stored.problemSince
    : decision.kind === 'all-clear'
      ? null
      : (stored.problemSince ?? now);
  return {
    decision,
    store: { items: scheduledItems(report), problemSince, forgetOthers: !report.unreachable },
  };
}
