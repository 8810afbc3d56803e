import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { runHealthCheck } from '../health/engine.js';
import type { CheckStatus, HealthReport } from '../health/types.js';
import {
  JOBS,
  type JobPayload,
  MAX_STATUS_CHANGES,
  type ScheduledHealthPostJob,
  type StatusChange,
} from '../jobs/catalog.js';
import type { JobRun } from '../jobs/processors.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { RunStore, SCHEDULER_REQUESTER } from '../store/runs.js';
import { inTransaction } from '../store/transaction.js';
import type { TargetPools } from '../targets/pools.js';
import type { TargetRegistry } from '../targets/registry.js';

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

interface ScheduledItem {
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

export interface ScheduledHealthDeps {
  /** The state database (migrated). */
  db: pg.Pool;
  targets: TargetRegistry;
  pools: TargetPools;
  logger: Logger;
  queues: QueueBackend;
  /** Engine options; `only` restricts the scheduled run to some checks (all when absent). */
  health: { budgetMs: number; evidenceLimit: number; only?: readonly string[] };
  /** Re-post a persisting problem after this long; default 24 h. */
  remindAfterMs?: number;
  /** Defaults to a RunStore on `db`. */
  runs?: RunStore;
}

export interface ScheduledHealthOutcome {
  decision: ScheduledDecision;
  runId?: string;
}

/**
 * Processes one fire of a target's health scheduler (`scheduled-health` jobs on the
 * diagnostics queue): runs the health check, compares it with the target's previous
 * scheduled run in the state database, and when it is worth telling, stores it as a run
 * (so Details and Re-run work as on any report) and queues `scheduled-health-report`.
 * A retry of the same fire replays its decision, so a crash never posts twice or loses a post.
 */
export function scheduledHealthProcessor(deps: ScheduledHealthDeps) {
  const runs = deps.runs ?? new RunStore(deps.db);
  return async (
    { target: name, channel }: JobPayload<typeof JOBS.scheduledHealth>,
    job: JobRun,
  ): Promise<ScheduledHealthOutcome> => {
    let target: ReturnType<TargetRegistry['resolve']>;
    try {
      target = deps.targets.resolve(name);
    } catch {
      // Removed from configuration; the next start-up's sync removes its scheduler.
      deps.logger.warn({ target: name }, 'scheduled health check of an unknown target skipped');
      return { decision: { post: false, reason: 'stale' } };
    }
    if (target.schedule?.enabled === false) return { decision: { post: false, reason: 'stale' } };

    const fire = job.id ?? randomUUID();
    const report = await runHealthCheck(target, deps.pools.readOnly(target), {
      budgetMs: deps.health.budgetMs,
      evidenceLimit: deps.health.evidenceLimit,
      ...(deps.health.only ? { only: deps.health.only } : {}),
      logger: deps.logger,
    });
    const decision = await recordScheduledRun(deps.db, report, fire, new Date(), deps.remindAfterMs);
    deps.logger.info(
      { target: target.name, status: report.status, post: decision.post, reason: decision.reason },
      'scheduled health check',
    );
    if (!decision.post) return { decision };

    const { run } = await runs.createHealthRun({
      target: target.name,
      requestedBy: SCHEDULER_REQUESTER,
      channelId: channel,
      idempotencyKey: `scheduled-health:${fire}`,
    });
    // On a replay the first attempt's report may already be stored: that one is posted.
    if (run.status !== 'done') await runs.saveReport(run.id, report);
    await deps.db.query('UPDATE scheduled_health_targets SET last_run_id = $2 WHERE target = $1', [
      target.name,
      run.id,
    ]);
    const payload: ScheduledHealthPostJob = {
      runId: run.id,
      channel,
      kind: decision.kind,
      reason: decision.reason,
      changes: decision.changes.slice(0, MAX_STATUS_CHANGES),
      moreChanges: Math.max(0, decision.changes.length - MAX_STATUS_CHANGES),
      problemSince: decision.problemSince,
    };
    await deps.queues.enqueue({ name: JOBS.scheduledHealthReport, data: payload });
    return { decision, runId: run.id };
  };
}

interface TargetRow {
  last_started_at: Date | null;
  last_fire: string | null;
  last_decision: ScheduledDecision | null;
  problem_since: Date | null;
  last_posted_at: Date | null;
}

/**
 * Compares the report with the target's stored state and stores the new state, in one
 * transaction holding the target's row, so concurrent fires of one target take turns.
 */
export async function recordScheduledRun(
  db: pg.Pool,
  report: HealthReport,
  fire: string,
  now: Date,
  remindAfterMs = DEFAULT_REMIND_AFTER_MS,
): Promise<ScheduledDecision> {
  return inTransaction(db, async (client) => {
    await client.query('INSERT INTO scheduled_health_targets (target) VALUES ($1) ON CONFLICT DO NOTHING', [
      report.target,
    ]);
    const { rows } = await client.query<TargetRow>(
      `SELECT last_started_at, last_fire, last_decision, problem_since, last_posted_at
         FROM scheduled_health_targets WHERE target = $1 FOR UPDATE`,
      [report.target],
    );
    const row = rows[0]!;
    if (row.last_fire === fire && row.last_decision) {
      return row.last_decision;
    }
    const startedAt = new Date(report.startedAt);
    if (row.last_started_at && row.last_started_at > startedAt) {
      // A fire that ran before the one already recorded, finishing late: it says nothing new.
      return { post: false, reason: 'stale' };
    }
    const { rows: checkRows } = await client.query<{ check_id: string; status: CheckStatus }>(
      'SELECT check_id, status FROM scheduled_health WHERE target = $1',
      [report.target],
    );
    const previous: ScheduledState | undefined = row.last_started_at
      ? {
          checks: new Map(checkRows.map((check) => [check.check_id, { status: check.status }])),
          problemSince: row.problem_since,
          lastPostedAt: row.last_posted_at,
        }
      : undefined;
    const decision = decideScheduledPost(previous, report, now, remindAfterMs);

    const items = scheduledItems(report);
    await client.query(
      `INSERT INTO scheduled_health (target, check_id, status, summary, first_seen, last_seen)
       SELECT $1::text, i.check, i.status, i.summary, $3::timestamptz, $3::timestamptz
         FROM jsonb_to_recordset($2::jsonb) AS i("check" text, status text, summary text)
       ON CONFLICT (target, check_id) DO UPDATE
         SET status = EXCLUDED.status, summary = EXCLUDED.summary, last_seen = EXCLUDED.last_seen,
             first_seen = CASE WHEN scheduled_health.status = EXCLUDED.status
                               THEN scheduled_health.first_seen ELSE EXCLUDED.first_seen END`,
      [report.target, JSON.stringify(items), now],
    );
    if (!report.unreachable) {
      // Checks no longer run (catalog or `only` changed) are forgotten.
      await client.query(
        'DELETE FROM scheduled_health WHERE target = $1 AND NOT (check_id = ANY($2::text[]))',
        [report.target, items.map((item) => item.check)],
      );
    }
    const problemSince = !decision.post
      ? row.problem_since
      : decision.kind === 'all-clear'
        ? null
        : (row.problem_since ?? now);
    await client.query(
      `UPDATE scheduled_health_targets
          SET report_status = $2, last_started_at = $3, last_fire = $4, last_decision = $5,
              problem_since = $6, last_posted_at = CASE WHEN $7::boolean THEN $8::timestamptz ELSE last_posted_at END,
              updated_at = now()
        WHERE target = $1`,
      [
        report.target,
        report.status,
        startedAt,
        fire,
        JSON.stringify(decision),
        problemSince,
        decision.post,
        now,
      ],
    );
    return decision;
  });
}
