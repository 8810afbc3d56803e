import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { runHealthCheck } from '../health/engine.js';
import { asFleetMember, DEFAULT_FLEET_CONCURRENCY, runFleet } from '../health/fleet.js';
import type { RunbookThresholdLayer } from '../health/thresholds.js';
import {
  JOBS,
  MAX_STATUS_CHANGES,
  type ScheduledHealthJob,
  type ScheduledHealthPostJob,
} from '../jobs/catalog.js';
import type { JobRun } from '../jobs/processors.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { RunStore, SCHEDULER_REQUESTER } from '../store/runs.js';
import { ScheduledHealthStore } from '../store/scheduledHealth.js';
import type { TargetPools } from '../targets/pools.js';
import type { TargetRegistry } from '../targets/registry.js';
import type { Target } from '../targets/target.js';
import { decideScheduledRun, type ScheduledDecision } from './scheduledHealthDecision.js';

export interface ScheduledHealthDeps {
  /** The state database (migrated). */
  db: pg.Pool;
  targets: TargetRegistry;
  pools: TargetPools;
  logger: Logger;
  queues: QueueBackend;
  /** Engine options; `only` restricts the scheduled run to some checks (all when absent). */
  health: { budgetMs: number; evidenceLimit: number; only?: readonly string[] };
  /** The target's thresholds from its runbooks' alert tables (see runbookThresholds.ts). */
  runbookThresholds?: (target: Target) => RunbookThresholdLayer | undefined;
  /** Re-post a persisting problem after this long; default 24 h. */
  remindAfterMs?: number;
  /** Defaults to a RunStore on `db`. */
  runs?: RunStore;
  /** Targets of a group checked at once (FLEET_CONCURRENCY; default 8). */
  concurrency?: number;
}

export interface ScheduledHealthOutcome {
  decision: ScheduledDecision;
  runId?: string;
}

/** A group's fire: each target's outcome, in the group's order. */
export interface ScheduledGroupOutcome {
  targets: Array<{ target: string } & ScheduledHealthOutcome>;
}

/**
 * Processes one fire of a health scheduler (`scheduled-health` jobs on the diagnostics
 * queue). For each of its targets: runs the health check, compares it with the target's
 * previous scheduled run in the state database, and when it is worth telling, stores it as
 * a run (so Details and Re-run work as on any report). Then one message for the channel: a
 * target's report alone (`scheduled-health-report`), or, when several targets of a group
 * changed at this fire, one digest of them (`scheduled-health-digest`); targets whose
 * status did not change are left out. A retry of the same fire replays each target's
 * decision and names the same runs, so a crash never posts twice or loses a post.
 */
export function scheduledHealthProcessor(deps: ScheduledHealthDeps) {
  const runs = deps.runs ?? new RunStore(deps.db);
  const scheduledState = new ScheduledHealthStore(deps.db);

  const checkTarget = async (
    name: string,
    channel: string,
    fire: string,
    runKey: string,
    inGroup = false,
  ): Promise<ScheduledHealthOutcome & { post?: ScheduledHealthPostJob }> => {
    let target: ReturnType<TargetRegistry['resolve']>;
    try {
      // A group's targets are checked as a fleet's are, on one connection each: eight at once
      // on two each would take the whole default budget, and keep as many warm.
      target = inGroup ? asFleetMember(deps.targets.resolve(name)) : deps.targets.resolve(name);
    } catch {
      // Removed from configuration; the next start-up's sync removes its scheduler.
      deps.logger.warn({ target: name }, 'scheduled health check of an unknown target skipped');
      return { decision: { post: false, reason: 'stale' } };
    }
    if (target.schedule?.enabled === false) return { decision: { post: false, reason: 'stale' } };

    const report = await runHealthCheck(target, deps.pools.readOnly(target), {
      budgetMs: deps.health.budgetMs,
      evidenceLimit: deps.health.evidenceLimit,
      ...(deps.health.only ? { only: deps.health.only } : {}),
      logger: deps.logger,
      runbookThresholds: deps.runbookThresholds?.(target),
    });
    const now = new Date();
    const decision = await scheduledState.record(report, fire, now, (stored) =>
      decideScheduledRun(stored, report, fire, now, deps.remindAfterMs),
    );
    deps.logger.info(
      { target: target.name, status: report.status, post: decision.post, reason: decision.reason },
      'scheduled health check',
    );
    if (!decision.post) return { decision };

    const { run } = await runs.createHealthRun({
      target: target.name,
      requestedBy: SCHEDULER_REQUESTER,
      channelId: channel,
      idempotencyKey: runKey,
    });
    // On a replay the first attempt's report may already be stored: that one is posted.
    if (run.status !== 'done') await runs.saveReport(run.id, report);
    await scheduledState.setLastRun(target.name, run.id);
    const post: ScheduledHealthPostJob = {
      runId: run.id,
      channel,
      kind: decision.kind,
      reason: decision.reason,
      changes: decision.changes.slice(0, MAX_STATUS_CHANGES),
      moreChanges: Math.max(0, decision.changes.length - MAX_STATUS_CHANGES),
      problemSince: decision.problemSince,
    };
    return { decision, runId: run.id, post };
  };

  function processor(data: { target: string; channel: string }, job: JobRun): Promise<ScheduledHealthOutcome>;
  function processor(
    data: ScheduledHealthJob,
    job: JobRun,
  ): Promise<ScheduledHealthOutcome | ScheduledGroupOutcome>;
  async function processor(
    data: ScheduledHealthJob,
    job: JobRun,
  ): Promise<ScheduledHealthOutcome | ScheduledGroupOutcome> {
    const fire = job.id ?? randomUUID();
    if ('target' in data) {
      const { post, ...outcome } = await checkTarget(
        data.target,
        data.channel,
        fire,
        `scheduled-health:${fire}`,
      );
      if (post) await deps.queues.enqueue({ name: JOBS.scheduledHealthReport, data: post });
      return outcome;
    }
    // The group's targets share the fire, so each run's key names its target too.
    const outcomes = await runFleet(data.targets, deps.concurrency ?? DEFAULT_FLEET_CONCURRENCY, (name) =>
      checkTarget(name, data.channel, fire, `scheduled-health:${fire}:${name}`, true),
    );
    const posts = outcomes.flatMap((outcome) => outcome.post ?? []);
    // One message for the channel whatever changed: a lone change is the target's own report.
    if (posts.length === 1) await deps.queues.enqueue({ name: JOBS.scheduledHealthReport, data: posts[0]! });
    if (posts.length > 1)
      await deps.queues.enqueue({
        name: JOBS.scheduledHealthDigest,
        data: { channel: data.channel, items: posts },
      });
    return {
      targets: outcomes.map(({ post: _, ...outcome }, i) => ({ target: data.targets[i]!, ...outcome })),
    };
  }
  return processor;
}
