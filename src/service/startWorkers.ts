import type { WebClient } from '@slack/web-api';
import type { Job, Worker } from 'bullmq';
import type pg from 'pg';
import type { ApprovalService } from '../approvals/approvalService.js';
import { registerApprovalJobs } from '../approvals/jobs.js';
import type { AuditLog } from '../audit/auditLog.js';
import type { ServiceConfig } from '../config.js';
import { fleetHealthJobProcessor } from '../health/fleetJob.js';
import { healthJobProcessor } from '../health/healthJob.js';
import type { RunbookThresholdLayer } from '../health/thresholds.js';
import type { IncidentService } from '../incidents/incidentService.js';
import { incidentPageProcessor } from '../incidents/pageJob.js';
import { JOBS, QUEUES, type QueueName } from '../jobs/catalog.js';
import { JobCannotSucceed, JobProcessors } from '../jobs/processors.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { procedureJobProcessor } from '../runbooks/execute/procedureJob.js';
import type { RunbookLibrary } from '../runbooks/runbookLibrary.js';
import { applyHealthSchedules, resolveHealthSchedules } from '../schedules/healthSchedules.js';
import { applyProcedureSchedules, type ProcedureSchedule } from '../schedules/procedureSchedules.js';
import { scheduledHealthProcessor } from '../schedules/scheduledHealthJob.js';
import {
  ScheduledProcedureStore,
  scheduledProcedureProcessor,
  scheduledRunPosted,
} from '../schedules/scheduledProcedureJob.js';
import { warmPeriods } from '../schedules/warmConnections.js';
import { startAuditCheckpointer } from '../slack/posts/auditCheckpoints.js';
import { delayedOnRateLimit, registerSlackPosts } from '../slack/posts/notifier.js';
import type { ActionRequestStore } from '../store/actionRequests.js';
import type { IncidentStore } from '../store/incidents.js';
import type { ProcedureRunStore } from '../store/procedureRuns.js';
import type { RunStore } from '../store/runs.js';
import { WorkerHeartbeatStore } from '../store/workerHeartbeats.js';
import { ConnectionBudget } from '../targets/connectionBudget.js';
import { TargetPools } from '../targets/pools.js';
import type { TargetRegistry } from '../targets/registry.js';
import type { Target } from '../targets/target.js';
import { startStrandedRunSweeper } from './strandedRuns.js';
import { startHeartbeat } from './workerPresence.js';

export interface WorkerDeps {
  /** Recorded with the heartbeat: which kind of process the worker runs in. */
  mode: 'worker' | 'all';
  config: ServiceConfig;
  state: pg.Pool;
  runs: RunStore;
  procedureRuns: ProcedureRunStore;
  requests: ActionRequestStore;
  audit: AuditLog;
  incidents: IncidentStore;
  incidentService: IncidentService;
  approvals: ApprovalService;
  queues: QueueBackend;
  targets: TargetRegistry;
  slack: WebClient;
  metrics: Metrics;
  logger: Logger;
  /** A target's thresholds from the alert tables of the runbooks it names (when any do). */
  runbookThresholds?: (target: Target) => RunbookThresholdLayer | undefined;
  /** The runbooks, when this process loaded them: scheduled procedures start runs from them. */
  runbooks?: RunbookLibrary;
  /** The procedure schedules, resolved against `runbooks` at start-up (none when absent). */
  procedureSchedules?: ProcedureSchedule[];
}

export interface RunningWorkers {
  /** Stops taking jobs, lets the ones in hand finish, then closes the target pools. */
  stop(): Promise<void>;
}

/**
 * The job processors of `worker` and `all` mode, one BullMQ worker per queue. A module of
 * its own, imported only in those modes: a bot process does not load the processors (nor
 * their report rendering and target drivers), which keeps its memory down.
 */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const { config, state, runs, procedureRuns, queues, targets, logger, metrics } = deps;
  // Filled once the schedules are resolved below, before any job runs.
  let warm = new Map<string, number>();
  // Per process: every connection this worker opens to any target holds a slot of it.
  const budget = new ConnectionBudget(config.connectionBudget);
  watchBudget(budget, metrics, logger);
  const pools = new TargetPools(logger, { budget, warmMs: (target) => warm.get(target.name) });
  const jobs = jobProcessors(deps, pools);
  // Before anything starts: a job of the catalog with no processor would sit in its queue.
  jobs.assertComplete();
  const timed =
    (queue: string, processor: (job: Job, token?: string) => Promise<unknown>) =>
    async (job: Job, token?: string) => {
      const end = metrics.jobDuration.startTimer({ queue });
      try {
        await processor(job, token);
      } finally {
        end();
      }
    };
  const processors: Array<[queue: QueueName, processor: (job: Job, token?: string) => Promise<unknown>]> = [
    [QUEUES.diagnostics, jobs.forQueue(QUEUES.diagnostics)],
    // Every job there posts to Slack: a 429 delays the job rather than fail it.
    [QUEUES.notifications, delayedOnRateLimit(logger, jobs.forQueue(QUEUES.notifications))],
    [QUEUES.remediation, jobs.forQueue(QUEUES.remediation)],
  ];
  const options = { concurrency: config.workerConcurrency, lockMs: config.jobLockMs };
  const workers: Worker[] = [];
  let sweeper: { stop(): Promise<void> } | undefined;
  let heartbeat: { stop(): void } | undefined;
  let checkpointer: { stop(): Promise<void> } | undefined;
  let stopping = false;
  // Stops taking jobs, lets the ones in hand finish, then closes the target pools under them.
  const stop = async () => {
    stopping = true;
    // The row is left to age: bots count a worker stopped less than 30 s ago as alive, as
    // they would one that died.
    heartbeat?.stop();
    // Jobs in hand may wait on the target (a lock) for longer than the watchdog allows. Past
    // half its time their target statements are cancelled, again each second (a job's next
    // statement may wait too), so they end rolled back and recorded as failed, rather than
    // be abandoned by the watchdog and found "outcome unknown" by the next worker.
    let cancelling: NodeJS.Timeout | undefined;
    const cancelInFlight = () => {
      pools.cancelInFlight().then(
        (cancelled) => {
          if (cancelled > 0)
            logger.warn({ cancelled }, 'stopping: cancelled the target statements of jobs still running');
        },
        (err: unknown) => logger.warn({ err }, 'stopping: could not cancel target statements'),
      );
      cancelling = setTimeout(cancelInFlight, 1000);
    };
    cancelling = setTimeout(cancelInFlight, Math.floor(config.shutdownWatchdogMs / 2));
    try {
      // Taking jobs stops first: the sweeper or a checkpoint post (a slow Slack call) finishing
      // meanwhile must not keep this worker taking new jobs while the watchdog's time runs.
      await Promise.all([queues.stopWorkers(), sweeper?.stop(), checkpointer?.stop()]);
    } finally {
      clearTimeout(cancelling);
    }
    await pools.closeAll();
  };
  try {
    // A mistake in the schedules stops start-up here. Applying them needs the queue, which
    // may be unreachable now (Redis down): start-up does not wait for it, so a worker started
    // during an outage still stops on SIGTERM, and the sync is retried until it is done.
    // Every replica may sync: the schedulers are upserted by id, so they exist once.
    const schedules = resolveHealthSchedules(targets.list(), config.healthSchedule);
    const procedureSchedules = deps.procedureSchedules ?? [];
    // At most half the budget is kept open between runs: a quarter of it in targets, each
    // keeping up to pool_max (2) connections; the rest is for the runs themselves.
    warm = warmPeriods(
      [...schedules, ...procedureSchedules],
      Date.now(),
      Math.max(1, Math.floor(config.connectionBudget / 4)),
    );
    void retryUntilDone(() => applyProcedureSchedules(queues, procedureSchedules), {
      stopped: () => stopping,
      onFirstFailure: (err) =>
        logger.warn(
          { err },
          'the procedure schedules are not synced with the queue yet; retrying every 10 s',
        ),
    });
    void retryUntilDone(() => applyHealthSchedules(queues, schedules), {
      stopped: () => stopping,
      onFirstFailure: (err) =>
        logger.warn({ err }, 'the health schedules are not synced with the queue yet; retrying every 10 s'),
    });
    for (const [queue, processor] of processors)
      workers.push(queues.worker(queue, timed(queue, processor), options));
    sweeper = startStrandedRunSweeper(runs, queues, logger, config.recoverySweep, {
      approvals: deps.approvals,
      requests: deps.requests,
      procedureRuns,
      incidents: deps.incidents,
    });
    // Bots tell people, and /readyz, when no worker is alive to take their jobs.
    heartbeat = startHeartbeat(new WorkerHeartbeatStore(state), deps.mode, logger);
    const { checkpointChannel, hmacKey } = config.audit;
    checkpointer = startAuditCheckpointer({
      db: state,
      audit: deps.audit,
      slack: deps.slack,
      logger,
      ...(checkpointChannel ? { channel: checkpointChannel } : {}),
      ...(hmacKey ? { hmacKey } : {}),
    });
  } catch (err) {
    // Whatever did start is stopped: a failed start leaves no worker taking jobs.
    await stop();
    throw err;
  }
  for (const worker of workers) {
    worker.on('failed', (job, err) => logger.warn({ err, queue: worker.name, jobId: job?.id }, 'job failed'));
  }
  return { stop };
}

/** One processor per job of the catalog. */
export function jobProcessors(deps: WorkerDeps, pools: TargetPools): JobProcessors {
  const { config, state, runs, procedureRuns, queues, targets, logger } = deps;
  const jobs = new JobProcessors()
    .register(
      JOBS.health,
      healthJobProcessor({
        runs,
        targets,
        pools,
        queues,
        logger,
        health: config.health,
        ...(deps.runbookThresholds ? { runbookThresholds: deps.runbookThresholds } : {}),
      }),
    )
    .register(
      JOBS.fleetHealth,
      fleetHealthJobProcessor({
        runs,
        targets,
        pools,
        queues,
        logger,
        health: config.health,
        concurrency: config.fleetConcurrency,
        connectionBudget: config.connectionBudget,
        ...(deps.runbookThresholds ? { runbookThresholds: deps.runbookThresholds } : {}),
      }),
    )
    .register(
      JOBS.procedureRun,
      procedureJobProcessor({
        procedureRuns,
        targets,
        pools,
        queues,
        logger,
        scheduled: scheduledRunPosted(new ScheduledProcedureStore(state), procedureRuns, logger),
        ...(deps.runbookThresholds ? { runbookThresholds: deps.runbookThresholds } : {}),
      }),
    )
    .register(JOBS.scheduledProcedure, async (data, job) => {
      // Only a process that loaded the runbooks has schedules; a fire left from an older
      // configuration is dropped (the next sync removes its scheduler).
      if (!deps.runbooks)
        throw new JobCannotSucceed(`no runbooks loaded for scheduled procedure ${data.schedule}`);
      await scheduledProcedureProcessor({
        procedureRuns,
        audit: deps.audit,
        runbooks: deps.runbooks,
        targets,
        queues,
        logger,
      })(data, job);
    })
    .register(
      JOBS.scheduledHealth,
      scheduledHealthProcessor({
        db: state,
        runs,
        targets,
        pools,
        logger,
        queues,
        health: config.health,
        concurrency: config.fleetConcurrency,
        ...(deps.runbookThresholds ? { runbookThresholds: deps.runbookThresholds } : {}),
      }),
    )
    .register(
      JOBS.incidentPage,
      incidentPageProcessor({
        incidents: deps.incidents,
        incidentService: deps.incidentService,
        settings: config.incidents.pager,
        logger,
      }),
    );
  registerSlackPosts(jobs, {
    db: state,
    runs,
    procedureRuns,
    requests: deps.requests,
    audit: deps.audit,
    slack: deps.slack,
    logger,
    incidentPosts: {
      db: state,
      logger,
      incidents: deps.incidents,
      incidentService: deps.incidentService,
      slack: deps.slack,
      settings: config.incidents,
    },
  });
  registerApprovalJobs(jobs, {
    requests: deps.requests,
    procedureRuns,
    targets,
    pools,
    queues,
    audit: deps.audit,
    approvals: deps.approvals,
    logger,
  });
  return jobs;
}

/** A line for the budget this long after the last one logged, at most: a busy minute is one line. */
const BUDGET_LOG_EVERY_MS = 60_000;

/**
 * The budget's state on /metrics, and a warning when runs start waiting for a slot (at most
 * once a minute): a fleet held up by TARGET_CONNECTION_BUDGET is visible to whoever runs the
 * worker, not only in the reports that waited.
 */
function watchBudget(budget: ConnectionBudget, metrics: Metrics, logger: Logger): void {
  let loggedAt = Number.NEGATIVE_INFINITY;
  let waitingBefore = 0;
  budget.observe(({ inUse, waiting }) => {
    metrics.targetConnections.set({ state: 'in_use' }, inUse);
    metrics.targetConnections.set({ state: 'waiting' }, waiting);
    if (waiting > waitingBefore && performance.now() - loggedAt >= BUDGET_LOG_EVERY_MS) {
      loggedAt = performance.now();
      logger.warn(
        { inUse, waiting, budget: budget.size },
        'runs are waiting for a target connection slot: TARGET_CONNECTION_BUDGET is in use',
      );
    }
    waitingBefore = waiting;
  });
}

/** Runs `work` until it succeeds or `stopped()`, every 10 s; the timer never holds the process. */
async function retryUntilDone(
  work: () => Promise<unknown>,
  hooks: { stopped: () => boolean; onFirstFailure: (err: unknown) => void },
): Promise<void> {
  for (let attempt = 0; !hooks.stopped(); attempt++) {
    try {
      await work();
      return;
    } catch (err) {
      if (hooks.stopped()) return;
      if (attempt === 0) hooks.onFirstFailure(err);
      await new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    }
  }
}
