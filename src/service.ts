import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { App } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { ApprovalService } from './approvals/approvalService.js';
import { AuditLog } from './audit/auditLog.js';
import type { ServiceConfig } from './config.js';
import { ConfigError } from './errors.js';
import { HEALTH_CHECKS } from './health/catalog.js';
import { thresholdsForTarget, unknownTargetRunbooks } from './health/runbookThresholds.js';
import { assertThresholdOrder, targetThresholdLayers } from './health/thresholds.js';
import { opsRoutes, serveOpsRoutes } from './http/opsRoutes.js';
import { IncidentService } from './incidents/incidentService.js';
import { QUEUES } from './jobs/catalog.js';
import { createQueueBackend, type QueueBackend } from './jobs/queueBackend.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { readRunbookSourcesIsolated } from './runbooks/readRunbooksIsolated.js';
import { type LoadSummary, RunbookLibrary, runbookSources } from './runbooks/runbookLibrary.js';
import { resolveProcedureSchedules } from './schedules/procedureSchedules.js';
import type { InFlight } from './service/shutdownWatchdog.js';
import { noWorkerReason, WorkerPresence } from './service/workerPresence.js';
import { slackGroupMembers } from './slack/groupMembers.js';
import { webClientOptions } from './slack/webClientOptions.js';
import { ActionRequestStore } from './store/actionRequests.js';
import { IncidentStore } from './store/incidents.js';
import { migrateStateDatabaseIsolated } from './store/migrateIsolated.js';
import { ProcedureRunStore } from './store/procedureRuns.js';
import { RefusalRepeatStore } from './store/refusalRepeats.js';
import { RunStore } from './store/runs.js';
import { createStatePool } from './store/statePool.js';
import { WorkerHeartbeatStore } from './store/workerHeartbeats.js';
import { describeConnectionFailure, isConnectionFailure } from './targets/connectionErrors.js';
import { TargetRegistry } from './targets/registry.js';
import { actionsUnavailableText, BOT_APPLICATION_NAME, type Target } from './targets/target.js';

export type Mode = 'bot' | 'worker' | 'all';

/** State-database connections kept open even when idle: the ack path's batches use two at once. */
const WARM_STATE_CONNECTIONS = 4;

export interface RunningService {
  /** The port of the HTTP receiver (bot) or the ops routes (worker). */
  port: number;
  runs: RunStore;
  procedureRuns: ProcedureRunStore;
  queues: QueueBackend;
  /** Reads the runbook files again (SIGHUP, `/runbook reload`); undefined in worker mode. */
  runbooks?: RunbookLibrary;
  stop(): Promise<void>;
  /** What is being worked on now: what a stop that gives up would abandon. */
  inFlight(): InFlight;
}

export interface ServiceOptions {
  mode: Mode;
  config: ServiceConfig;
  logger: Logger;
  /** `all` mode without DATABASE_URL: how to make the embedded state database and demo target. */
  embedded?: () => Promise<{ url: string; demoTarget?: Target; stop(): Promise<void> }>;
}

/**
 * Wires one process: state database (migrated), queue backend, workers and/or the Slack
 * app, and the ops routes. Everything started here is stopped by `stop()`, in reverse.
 * The Slack app and the job processors are imported only by the modes that run them, and
 * migrations run in a child process: a long-running process keeps only the modules it uses.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { mode, config, logger } = options;
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const step of stops.reverse())
      await step().catch((err: unknown) => logger.warn({ err }, 'shutdown step failed'));
  };
  try {
    let databaseUrl = config.databaseUrl;
    let targets = config.targets;
    if (!databaseUrl) {
      if (mode !== 'all' || !options.embedded) {
        throw new ConfigError(
          `${mode} mode needs DATABASE_URL (the state database). Only \`all\` mode starts an embedded one.`,
        );
      }
      const embedded = await options.embedded();
      stops.push(() => embedded.stop());
      databaseUrl = embedded.url;
      if (embedded.demoTarget && targets.list().length === 0)
        targets = new TargetRegistry([embedded.demoTarget], 'demo');
      logger.info('no DATABASE_URL: using an embedded Postgres for state');
    }
    // The bot reads runbooks (workers get a snapshot of the procedure with each run); a worker
    // reads them too when a target takes health thresholds from a runbook's alert table. The
    // files are parsed in a child process while the state database is migrated in another.
    const targetsUseRunbooks = targets
      .list()
      .some((target) => (target.runbooks?.length ?? 0) > 0 || (target.procedureSchedules?.length ?? 0) > 0);
    const loadingRunbooks =
      mode === 'bot' || mode === 'all' || targetsUseRunbooks
        ? RunbookLibrary.load(runbookSources(config.runbooksDir), readRunbookSourcesIsolated)
        : undefined;
    // Awaited below; a start-up that fails before then must not leave it unhandled.
    loadingRunbooks?.catch(() => undefined);
    await migrateStateDatabaseIsolated(databaseUrl, logger).catch((err: unknown) => {
      // The first contact with the state database: an unreachable one is a setting to fix.
      if (!isConnectionFailure(err)) throw err;
      throw new ConfigError(
        `Cannot reach the state database (DATABASE_URL): ${describeConnectionFailure(err, databaseUrl)}.`,
      );
    });
    // With lock, statement and idle-in-transaction timeouts (see statePool.ts).
    const state = createStatePool(databaseUrl, {
      max: 10,
      min: WARM_STATE_CONNECTIONS,
      application_name: BOT_APPLICATION_NAME,
    });
    state.on('error', (err) => logger.warn({ err }, 'idle state database connection lost'));
    stops.push(() => state.end());
    // A burst of commands after start (or after a quiet spell) must not wait for connections
    // to be opened, each with its own authentication: a few are opened now and kept (`min`).
    const warm = await Promise.all(Array.from({ length: WARM_STATE_CONNECTIONS }, () => state.connect()));
    for (const client of warm) client.release();
    const runs = new RunStore(state);
    const procedureRuns = new ProcedureRunStore(state);
    const queues = await createQueueBackend({ redisUrl: config.redisUrl, databaseUrl }, logger);
    stops.push(() => queues.close());
    const metrics = createMetrics();
    if (!config.slack) throw new ConfigError('runbook-bot posts to Slack: set SLACK_BOT_TOKEN.');
    const slack = new WebClient(config.slack.botToken, webClientOptions(config.slack.apiUrl, logger));
    let runbooks: RunbookLibrary | undefined;
    if (loadingRunbooks) {
      const loaded = await loadingRunbooks;
      logRunbookLoad(logger, loaded.summary);
      runbooks = loaded.library;
      const unknown = unknownTargetRunbooks(
        targets.list(),
        runbooks.list().map((runbook) => runbook.id),
      );
      if (unknown.length > 0)
        throw new ConfigError(`Targets name runbooks that are not loaded:\n${unknown.join('\n')}`);
      // The order of a target's thresholds, once its runbooks' are known (config.ts did the others).
      for (const target of targets.list().filter((candidate) => candidate.runbooks?.length))
        assertThresholdOrder(
          HEALTH_CHECKS,
          targetThresholdLayers(target, HEALTH_CHECKS, thresholdsForTarget(target, loaded.library)),
        );
    }
    for (const target of targets.list().filter((candidate) => candidate.remediationUnavailable))
      logger.warn({ target: target.name }, actionsUnavailableText(target));
    // Every process that loaded the runbooks checks the schedules, so a bot reports a bad one too.
    const procedureSchedules = runbooks
      ? resolveProcedureSchedules(targets.list(), config.healthSchedule, runbooks)
      : undefined;
    const library = runbooks;
    const runbookThresholds = library ? (target: Target) => thresholdsForTarget(target, library) : undefined;
    const audit = new AuditLog(state, { hmacKey: config.audit.hmacKey });
    const requests = new ActionRequestStore(state);
    const incidents = new IncidentStore(state);
    const incidentService = new IncidentService({
      incidents,
      audit,
      queues,
      runbooks,
      settings: config.incidents,
      logger,
    });
    const approvals = new ApprovalService({
      requests,
      procedureRuns,
      targets,
      policy: config.policy,
      members: slackGroupMembers(slack),
      audit,
      queues,
      refusals: new RefusalRepeatStore(state),
    });

    if (mode === 'worker' || mode === 'all') {
      const { startWorkers } = await import('./service/startWorkers.js');
      const workers = await startWorkers({
        mode,
        config,
        state,
        runs,
        procedureRuns,
        requests,
        audit,
        incidents,
        incidentService,
        approvals,
        queues,
        targets,
        slack,
        metrics,
        logger,
        ...(runbookThresholds ? { runbookThresholds } : {}),
        ...(runbooks ? { runbooks } : {}),
        ...(procedureSchedules ? { procedureSchedules } : {}),
      });
      // Stopped after the receiver (stops run in reverse) and before the connections close:
      // jobs in hand finish first.
      stops.push(() => workers.stop());
    }

    // `all` mode runs its own worker; a bot alone depends on worker processes it cannot see.
    const workerPresence = new WorkerPresence(new WorkerHeartbeatStore(state), {
      localWorker: mode !== 'bot',
    });
    const routes = opsRoutes({
      metrics,
      logger,
      readiness: async () => {
        await state.query('SELECT 1');
        await queues.ping();
        if (mode !== 'bot') return;
        const status = await workerPresence.status();
        if (!status.up) throw new Error(noWorkerReason(status));
      },
      beforeScrape: async () => {
        for (const name of Object.values(QUEUES)) {
          const counts = await queues.queue(name).getJobCounts('waiting', 'delayed', 'active', 'failed');
          for (const [stateName, count] of Object.entries(counts))
            metrics.queueDepth.set({ queue: name, state: stateName }, count);
        }
      },
    });

    let port = config.port;
    // Slack requests being handled, for the log of a stop that has to give up on them.
    const openRequests = new Map<IncomingMessage, number>();
    if (mode === 'bot' || mode === 'all') {
      if (!runbooks) throw new Error('the runbook library is loaded for the bot');
      const { createSlackApp } = await import('./slack/app.js');
      const app: App = createSlackApp({
        slack: config.slack,
        approvals,
        audit,
        incidents: incidentService,
        incidentStore: incidents,
        access: config.access,
        targets,
        runbooks,
        runs,
        procedureRuns,
        queues,
        metrics,
        logger,
        routes,
        workers: workerPresence,
      });
      if (config.slack.appToken) {
        await app.start();
        const ops = await serveOpsRoutes(routes, config.port);
        port = ops.port;
        stops.push(() => ops.close());
      } else {
        const server = (await app.start(config.port)) as Server;
        server.on('request', (request: IncomingMessage, response: ServerResponse) => {
          openRequests.set(request, Date.now());
          response.on('close', () => openRequests.delete(request));
        });
        const address = server.address();
        port = typeof address === 'object' && address ? address.port : config.port;
      }
      stops.push(() => app.stop());
    } else {
      const ops = await serveOpsRoutes(routes, config.port);
      port = ops.port;
      stops.push(() => ops.close());
    }
    logger.info({ mode, port, queue: queues.kind }, 'runbook-bot started');
    const inFlight = (): InFlight => ({
      jobsInHand: queues.jobsInHand(),
      openRequests: [...openRequests].map(([request, since]) => ({
        method: request.method,
        path: request.url,
        runningMs: Date.now() - since,
      })),
    });
    return { port, runs, procedureRuns, queues, runbooks, stop, inFlight };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One line for the load, one per file that could not be loaded: an author sees what to fix. */
export function logRunbookLoad(logger: Logger, summary: LoadSummary): void {
  for (const problem of summary.problems) logger.warn({ file: problem.file }, problem.message);
  logger.info(
    { runbooks: summary.runbooks, procedures: summary.procedures, warnings: summary.warnings },
    'runbooks loaded (`runbook-bot lint <file>` shows the warnings)',
  );
}
