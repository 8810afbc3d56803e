import { type Job, UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AuditLog } from '../../src/audit/auditLog.js';
import { JOBS, QUEUES } from '../../src/jobs/catalog.js';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/queueBackend.js';
import { procedureJobProcessor } from '../../src/runbooks/execute/procedureJob.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import {
  applyProcedureSchedules,
  type ProcedureSchedule,
  resolveProcedureSchedules,
} from '../../src/schedules/procedureSchedules.js';
import {
  ScheduledProcedureStore,
  scheduledProcedureProcessor,
  scheduledRunPosted,
} from '../../src/schedules/scheduledProcedureJob.js';
import { eventsFrom } from '../../src/store/auditEvents.js';
import { ProcedureRunStore } from '../../src/store/procedureRuns.js';
import { TargetPools } from '../../src/targets/pools.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import type { Target } from '../../src/targets/target.js';
import { auditEventTerminal } from '../../src/terminal/auditText.js';
import { captureLogs, eventually } from '../support/botHarness.js';
import {
  createStateDatabase,
  createTestDatabase,
  type StateDatabase,
  type TestDatabase,
  testTarget,
} from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';

const [server] = inject('postgresServers');
const CHANNEL = 'CPROCS';
/** Seed 000's "Data Integrity Spot Check": jobs whose customer is missing show a NULL name. */
const SPOT_CHECK = 'hampton-mowerpower-system-runbook#3-data-integrity-spot-check';

describe.skipIf(!redisAvailable())('scheduled procedures on Redis', () => {
  let state: StateDatabase;
  let shopDb: TestDatabase;
  let redis: TestRedis;
  let queues: QueueBackend;
  let procedureRuns: ProcedureRunStore;
  let library: RunbookLibrary;
  let shop: Target;
  let schedules: ProcedureSchedule[];
  const pools = new TargetPools();
  const logs = captureLogs();
  /** Runs finished by the procedure-run job, in order, and those it queued a post for. */
  const finished: string[] = [];
  const posted: string[] = [];

  beforeAll(async () => {
    [state, shopDb, redis, { library }] = await Promise.all([
      createStateDatabase(server!.url, 4),
      createTestDatabase(server!.url),
      startTestRedis(),
      RunbookLibrary.load(runbookSources()),
    ]);
    await shopDb.admin.query(`
      TRUNCATE jobs_db, customers_db CASCADE;
      INSERT INTO customers_db (id, name) VALUES (1, 'Ann'), (2, 'Bob');
      INSERT INTO jobs_db (job_number, customer_id) VALUES ('JB-1', 1), ('JB-2', 2);`);
    procedureRuns = new ProcedureRunStore(state.pool);
    queues = await createQueueBackend({ redisUrl: redis.url, databaseUrl: state.url }, logs.logger);
    shop = testTarget(shopDb.url, {
      name: 'shop',
      source: 'targets.yml (targets.shop)',
      // Every second (the seconds field), in a zone that is not UTC.
      procedureSchedules: [
        { procedure: SPOT_CHECK, cron: '*/1 * * * * *', tz: 'Europe/Berlin', channel: CHANNEL },
      ],
    });
    const targets = new TargetRegistry([shop]);
    schedules = resolveProcedureSchedules([shop], { cron: '0 9 * * *', tz: 'UTC' }, library);
    // The wiring startWorkers does: fires and runs on diagnostics, posts on notifications.
    const fire = scheduledProcedureProcessor({
      procedureRuns,
      audit: new AuditLog(state.pool),
      runbooks: library,
      targets,
      queues,
      logger: logs.logger,
    });
    const run = procedureJobProcessor({
      procedureRuns,
      targets,
      pools,
      queues,
      logger: logs.logger,
      scheduled: scheduledRunPosted(new ScheduledProcedureStore(state.pool), procedureRuns, logs.logger),
    });
    queues.worker(
      QUEUES.diagnostics,
      async (job: Job) => {
        if (job.name === JOBS.scheduledProcedure) return fire(job.data, job);
        if (job.name === JOBS.procedureRun) {
          await run(job.data);
          finished.push(job.data.runId);
          return;
        }
        throw new UnrecoverableError(`unexpected job ${job.name}`);
      },
      { concurrency: 1 },
    );
    queues.worker(
      QUEUES.notifications,
      async (job: Job) => {
        if (job.name !== JOBS.procedurePost) throw new UnrecoverableError(`unexpected job ${job.name}`);
        posted.push(job.data.runId);
      },
      { concurrency: 1 },
    );
  }, 60_000);
  afterAll(async () => {
    await queues?.close();
    await pools.closeAll();
    await redis?.stop();
    await Promise.all([state?.drop(), shopDb?.drop()]);
  });

  const moreRuns = async (count: number) => {
    const start = finished.length;
    await eventually(() => (finished.length >= start + count ? true : undefined), 30_000);
  };

  it('posts the first run, then only runs whose results changed, and an error once', async () => {
    const ids = await applyProcedureSchedules(queues, schedules);
    expect(ids).toEqual([`scheduled-procedure-shop-${SPOT_CHECK}-*/1_*_*_*_*_*-${CHANNEL}`]);
    const scheduler = await queues.queue(QUEUES.diagnostics).getJobScheduler(ids[0]!);
    expect(scheduler).toMatchObject({
      pattern: '*/1 * * * * *',
      tz: 'Europe/Berlin',
      name: 'scheduled-procedure',
    });

    // The first run is posted, as a procedure run by the scheduler in the schedule's channel.
    await eventually(() => posted[0], 30_000);
    const first = await procedureRuns.get(posted[0]!);
    expect(first).toMatchObject({
      target: 'shop',
      requestedBy: 'scheduler',
      channelId: CHANNEL,
      status: 'done',
      procedure: { id: SPOT_CHECK },
    });
    const [check] = (await procedureRuns.steps(first!.id)).filter((step) => step.kind === 'check');
    expect(check?.result).toMatchObject({ status: 'ok', rowCount: 2 });

    // Same rows (in whatever random order the check returns them): nothing is posted.
    await moreRuns(3);
    expect(posted).toHaveLength(1);

    // A job whose customer is gone: its NULL name is a change, posted once.
    await shopDb.admin.query(`INSERT INTO jobs_db (job_number, customer_id) VALUES ('JB-3', NULL)`);
    await eventually(() => posted[1], 30_000);
    const changed = (await procedureRuns.steps(posted[1]!)).find((step) => step.kind === 'check');
    expect(changed?.result).toMatchObject({ status: 'ok', rowCount: 3 });
    await moreRuns(3);
    expect(posted).toHaveLength(2);

    // The check errors: posted the first time, not again while it keeps failing.
    await shopDb.admin.query('ALTER TABLE jobs_db RENAME TO jobs_db_old');
    await eventually(() => posted[2], 30_000);
    const failing = (await procedureRuns.steps(posted[2]!)).find((step) => step.kind === 'check');
    expect(failing?.result).toMatchObject({ status: 'error' });
    await moreRuns(3);
    expect(posted).toHaveLength(3);

    // Unscheduled when no longer configured.
    await applyProcedureSchedules(queues, []);
    expect(await queues.queue(QUEUES.diagnostics).getJobScheduler(ids[0]!)).toBeUndefined();

    // Every run it started is in the audit log as the scheduler's command, naming the
    // schedule, once per run; the chain verifies.
    const ran = [...finished];
    const commands = (await eventsFrom(state.pool, 1, 10_000))
      .map(({ event }) => event)
      .filter((event) => event.kind === 'command');
    for (const runId of ran) expect(commands.filter((event) => event.runId === runId)).toHaveLength(1);
    const firstCommand = commands.find((event) => event.runId === first!.id)!;
    expect(firstCommand).toMatchObject({
      actor: 'scheduler',
      target: 'shop',
      data: { command: `/runbook run ${SPOT_CHECK} shop`, params: {}, schedule: ids[0] },
    });
    expect(auditEventTerminal(firstCommand).replace(/^#\d+ \S+ /, '')).toBe(
      `scheduler ran /runbook run ${SPOT_CHECK} shop on its schedule ${ids[0]}`,
    );
    expect(await new AuditLog(state.pool).verify()).toMatchObject({ ok: true });
  }, 120_000);
});
