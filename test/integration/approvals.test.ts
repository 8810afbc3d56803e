import { WebClient } from '@slack/web-api';
import { type Job, Worker } from 'bullmq';
import nock from 'nock';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ApprovalService } from '../../src/approvals/approvalService.js';
import { registerApprovalJobs } from '../../src/approvals/jobs.js';
import { effectivePolicy, type PolicyFile, selfApprovalRefusal } from '../../src/approvals/policy.js';
import { AuditLog } from '../../src/audit/auditLog.js';
import { JOBS, QUEUES } from '../../src/jobs/catalog.js';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/queueBackend.js';
import { createLogger } from '../../src/logger.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { ActionStep, Runbook } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { recoverStrandedWork, STRANDED_RUN_SWEEP } from '../../src/service/strandedRuns.js';
import { postRequestCard } from '../../src/slack/posts/requestCard.js';
import { auditLine } from '../../src/slack/views/auditLine.js';
import { requestCardBlocks, requestCardText } from '../../src/slack/views/requestCard.js';
import { ActionRequestStore } from '../../src/store/actionRequests.js';
import { IncidentStore } from '../../src/store/incidents.js';
import { ProcedureRunStore } from '../../src/store/procedureRuns.js';
import { RefusalRepeatStore } from '../../src/store/refusalRepeats.js';
import { TargetPools } from '../../src/targets/pools.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import { DEFAULT_TARGET_SETTINGS } from '../../src/targets/target.js';
import { eventually } from '../support/botHarness.js';
import {
  createStateDatabase,
  createTestDatabase,
  openSession,
  type StateDatabase,
  type TestDatabase,
  testTarget,
  withDatabase,
} from '../support/databases.js';
import { processorOf } from '../support/jobs.js';
import { redisAvailable, startTestRedis } from '../support/redis.js';

const [server] = inject('postgresServers');

const RUNBOOK = `# Queue Runbook

## Reset failed items

**Diagnosis:**
\`\`\`sql
SELECT status, count(*) AS items FROM queue_items GROUP BY status ORDER BY status;
\`\`\`

**Fix:**
<!-- runbook: risk=medium -->
\`\`\`sql
UPDATE queue_items SET status = 'queued' WHERE status = 'failed';
\`\`\`

**Verification:**
\`\`\`sql
SELECT count(*) AS failed FROM queue_items WHERE status = 'failed';
\`\`\`
`;

/**
 * Seed 002's "Database Connection Failures", steps 3 and 4 as written there, with one
 * condition added so the test touches only its own sessions (the seed's "10 minutes" cannot
 * be waited for in a test), and its verification as a count. Like the seed, step 2 does not
 * filter on datname: sessions named 'victim' in other databases of this shared server
 * (other test files open them) are never signalled, because a signal acts on the target's
 * database only.
 */
const POOL_RUNBOOK = `# Pool Runbook

## Database Connection Failures

**Response Steps:**
1. Check for long-running queries:
   \`\`\`sql
   SELECT pid, now() - pg_stat_activity.query_start AS duration, query
   FROM pg_stat_activity
   WHERE state != 'idle'
   ORDER BY duration DESC;
   \`\`\`
2. If pool exhausted, kill idle connections:
   \`\`\`sql
   SELECT pg_terminate_backend(pid)
   FROM pg_stat_activity
   WHERE state = 'idle'
   AND query_start < now() - interval '1 millisecond'
   AND application_name = 'victim';
   \`\`\`

**Resolution Verification:**
\`\`\`sql
SELECT count(*) AS idle_victims FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'victim';
\`\`\`
`;

/** Seed 001's "Temporarily disable RLS for testing (CAREFUL!)". */
const RLS_RUNBOOK = `# RLS Runbook

## Policy debugging

\`\`\`sql
-- Temporarily disable RLS for testing (CAREFUL!)
ALTER TABLE queue_items DISABLE ROW LEVEL SECURITY;
\`\`\`
`;

const logger = createLogger({ level: 'silent' });

function fakeJob(name: string, data: unknown): Job {
  return { name, data, id: 'test' } as unknown as Job;
}

describe('approvals and at-most-once execution', () => {
  let state: StateDatabase;
  let target: TestDatabase;
  let pool: pg.Pool;
  let queues: QueueBackend;
  let pools: TargetPools;
  let runbook: Runbook;
  let requests: ActionRequestStore;
  let procedureRuns: ProcedureRunStore;
  let audit: AuditLog;
  /** The target's row limit (targets file `max_rows`); undefined: the default. */
  let shopMaxRows: number | undefined;
  const targets = () =>
    new TargetRegistry(
      [
        testTarget(target.url, {
          name: 'shop',
          settings: { ...DEFAULT_TARGET_SETTINGS, ...(shopMaxRows ? { maxRows: shopMaxRows } : {}) },
        }),
      ],
      'test',
    );

  beforeAll(async () => {
    await loadSqlParser();
    [state, target] = await Promise.all([
      createStateDatabase(server!.url, 30),
      createTestDatabase(server!.url, { demoSchema: false }),
    ]);
    pool = state.pool;
    // No Redis needed: BullMQ's Postgres backend on the state database holds the jobs.
    queues = await createQueueBackend({ databaseUrl: state.url }, logger);
    pools = new TargetPools();
    requests = new ActionRequestStore(pool);
    procedureRuns = new ProcedureRunStore(pool);
    audit = new AuditLog(pool);
    runbook = {
      ...parseRunbook(RUNBOOK, 'queue.md'),
      source: { file: 'queue.md', sha256: 'f'.repeat(64), origin: 'team' },
    };
  });
  afterAll(async () => {
    await queues?.close();
    await pools?.closeAll();
    await Promise.all([state?.drop(), target?.drop()]);
  });

  async function freshRequest(
    policy: PolicyFile,
    failedItems = 3,
    source: Runbook = runbook,
    previewer = 'U0ONCALL',
    queueBackend: QueueBackend = queues,
  ) {
    await target.admin.query(`DROP TABLE IF EXISTS queue_items;
      CREATE TABLE queue_items (id serial PRIMARY KEY, status text NOT NULL);
      INSERT INTO queue_items (status) SELECT 'failed' FROM generate_series(1, ${failedItems});
      INSERT INTO queue_items (status) VALUES ('done');`);
    const procedure = source.procedures[0]!;
    const { run } = await procedureRuns.create({
      runbook: source,
      procedure,
      target: 'shop',
      requestedBy: 'U0ONCALL',
      params: {},
    });
    const approvals = new ApprovalService({
      requests,
      procedureRuns,
      targets: targets(),
      policy,
      members: async () => [],
      audit,
      queues: queueBackend,
      refusals: new RefusalRepeatStore(pool),
    });
    const process = processorOf(registerApprovalJobs, {
      requests,
      procedureRuns,
      targets: targets(),
      pools,
      queues: queueBackend,
      audit,
      approvals,
      logger,
    });
    const action = procedure.steps.find((step) => step.kind === 'action')!;
    await process(
      fakeJob(JOBS.actionPreview, { runId: run.id, stepId: action.id, requestedBy: previewer, values: {} }),
    );
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM action_requests WHERE run_id = $1', [
      run.id,
    ]);
    return { requestId: rows[0]!.id, approvals, process, run };
  }

  const failedCount = async () =>
    (
      await target.admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM queue_items WHERE status = 'failed'",
      )
    ).rows[0]!.n;

  it('turns row-level security back on by itself after an approved DISABLE ROW LEVEL SECURITY, once', async () => {
    const rls = { ...parseRunbook(RLS_RUNBOOK, 'rls.md'), source: runbook.source };
    const { requestId, approvals, process } = await freshRequest({ defaults: { approvals: 1 } }, 3, rls);
    const previewed = await requests.get(requestId);
    expect(previewed).toMatchObject({ status: 'previewed', risk: 'high' });
    const plan = previewed!.plan as { summary: string; revert?: { sql: string; afterMs: number } };
    expect(plan.revert).toEqual({
      table: '"queue_items"',
      sql: 'ALTER TABLE "queue_items" ENABLE ROW LEVEL SECURITY',
      afterMs: 15 * 60_000,
    });
    expect(plan.summary).toContain('row-level security is turned back on by the bot 15 min after it runs');
    await target.admin.query('ALTER TABLE queue_items ENABLE ROW LEVEL SECURITY');
    const rowSecurity = async () =>
      (await target.admin.query("SELECT relrowsecurity AS on FROM pg_class WHERE relname = 'queue_items'"))
        .rows[0].on;
    await approvals.requestApproval(requestId, 'U0ONCALL');
    await approvals.approve(requestId, 'U0SECOND');
    await process(fakeJob(JOBS.executeAction, { requestId }));
    expect(await rowSecurity()).toBe(false);
    const executed = await requests.get(requestId);
    expect(executed?.status).toBe('succeeded');
    expect(JSON.stringify(executed?.outcome)).toMatch(
      /the bot turns row-level security back on at \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
    );
    // Its undo waits in the queue, delayed by the plan's 15 minutes.
    const waiting = await queues.queue(QUEUES.remediation).getJobs(['delayed']);
    expect(
      waiting.find((job) => job.name === JOBS.rowSecurityRevert && job.data.requestId === requestId)?.opts
        .delay,
    ).toBe(15 * 60_000);
    await process(fakeJob(JOBS.rowSecurityRevert, { requestId }));
    expect(await rowSecurity()).toBe(true);
    // A retried job finds it on already and changes nothing.
    await process(fakeJob(JOBS.rowSecurityRevert, { requestId }));
    const undone = await pool.query<{ outcome: string }>(
      "SELECT data->>'outcome' AS outcome FROM audit_events WHERE request_id = $1 AND kind = 'reverted' ORDER BY seq",
      [requestId],
    );
    expect(undone.rows.map((row) => row.outcome)).toEqual(['reenabled', 'already_enabled']);
  });

  it('fails an approved request whose target was removed since, visibly, and runs nothing', async () => {
    const { requestId, approvals } = await freshRequest({ defaults: { approvals: 1 } });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    await approvals.approve(requestId, 'U0SECOND');
    // A worker whose configuration no longer has the target.
    const withoutTarget = processorOf(registerApprovalJobs, {
      requests,
      procedureRuns,
      targets: new TargetRegistry([], 'test'),
      pools,
      queues,
      audit,
      approvals,
      logger,
    });
    await withoutTarget(fakeJob(JOBS.executeAction, { requestId }));
    expect(await failedCount()).toBe(3);
    const failed = await requests.get(requestId);
    expect(failed?.status).toBe('failed');
    expect(JSON.stringify(failed?.outcome)).toMatch(/shop/);
  });

  it('previews by counting rows in a rolled-back transaction, then executes once after approval and verifies', async () => {
    const { requestId, approvals, process } = await freshRequest({ defaults: { approvals: 1 } });
    const previewed = await requests.get(requestId);
    expect(previewed).toMatchObject({ status: 'previewed', risk: 'medium' });
    expect((previewed!.plan as { affectedRows?: number }).affectedRows).toBe(3);
    expect(await failedCount()).toBe(3);

    expect(await approvals.requestApproval(requestId, 'U0ONCALL')).toEqual({ ok: true });
    const self = await approvals.approve(requestId, 'U0ONCALL');
    expect(self).toEqual({
      ok: false,
      reason: 'You requested this medium-risk action; someone else must approve it.',
    });
    expect(await approvals.approve(requestId, 'U0SECOND')).toMatchObject({ ok: true });

    await process(fakeJob(JOBS.executeAction, { requestId }));
    expect(await failedCount()).toBe(0);
    const done = await requests.get(requestId);
    expect(done?.status).toBe('succeeded');
    expect(done?.outcome).toMatchObject({
      verification: {
        before: expect.stringContaining('failed=3'),
        after: expect.stringContaining('failed=0'),
      },
    });
    const kinds = (
      await pool.query<{ kind: string }>('SELECT kind FROM audit_events WHERE request_id = $1 ORDER BY seq', [
        requestId,
      ])
    ).rows.map((row) => row.kind);
    expect(kinds).toEqual([
      'preview',
      'approval_requested',
      'refused',
      'approved',
      'execution_started',
      'execution_finished',
      'verification',
    ]);
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

  it("kills exactly the idle connections seed 002 means, never the bot's own, and verification shows them gone", async () => {
    const role = `rb_pool_${Date.now()}`;
    await target.admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pool-pw'`);
    const userUrl = withDatabase(server!.url, target.name, { user: role, password: 'pool-pw' });
    const victims = await Promise.all([1, 2, 3].map(() => openSession(userUrl, 'victim')));
    const bystander = await openSession(userUrl, 'runbook-bot');
    // An idle 'victim' of the same role in another database of the server: out of scope.
    const otherDb = await createTestDatabase(server!.url, { demoSchema: false });
    const elsewhere = await openSession(
      withDatabase(server!.url, otherDb.name, { user: role, password: 'pool-pw' }),
      'victim',
    );
    for (const session of [...victims, bystander, elsewhere]) await session.query('SELECT 1');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const pids = (
      await Promise.all(
        victims.map(
          async (session) => (await session.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number,
        ),
      )
    ).sort((a, b) => a - b);
    const poolRunbook = {
      ...parseRunbook(POOL_RUNBOOK, 'pool.md'),
      source: { file: 'pool.md', sha256: 'e'.repeat(64), origin: 'team' as const },
    };
    const { requestId, approvals, process } = await freshRequest(
      { defaults: { approvals: 1 } },
      0,
      poolRunbook,
    );

    const previewed = await requests.get(requestId);
    expect(previewed?.risk).toBe('high');
    const listed = ((previewed!.plan as { backends?: Array<{ pid: number }> }).backends ?? []).map(
      (backend) => backend.pid,
    );
    expect(listed.sort((a, b) => a - b)).toEqual(pids);
    const elsewherePid = (await elsewhere.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    expect((previewed!.plan as { excluded?: unknown[] }).excluded).toContainEqual({
      pid: elsewherePid,
      reason: 'another database',
    });

    await approvals.requestApproval(requestId, 'U0ONCALL');
    expect(await approvals.approve(requestId, 'U0ONCALL')).toMatchObject({ ok: false });
    await approvals.approve(requestId, 'U0SECOND');
    await process(fakeJob(JOBS.executeAction, { requestId }));

    const done = await requests.get(requestId);
    expect(done?.status).toBe('succeeded');
    expect(done?.outcome).toMatchObject({
      verification: {
        before: expect.stringContaining('idle_victims=3'),
        after: expect.stringContaining('idle_victims=0'),
      },
    });
    expect((await bystander.query('SELECT 1 AS alive')).rows[0].alive).toBe(1);
    expect((await elsewhere.query('SELECT 1 AS alive')).rows[0].alive).toBe(1);
    await bystander.end();
    await elsewhere.end();
    await otherDb.drop();
  });

  it('previews an identifier parameter as the quoted name found in the catalog, executes exactly that, and refuses a name it does not have', async () => {
    await target.admin.query(`DROP TABLE IF EXISTS queue_items;
      CREATE TABLE queue_items (id serial PRIMARY KEY, status text NOT NULL);
      CREATE FUNCTION noop_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER queue_audit AFTER INSERT ON queue_items FOR EACH ROW EXECUTE FUNCTION noop_trigger();
      ALTER TABLE queue_items DISABLE TRIGGER queue_audit;`);
    const source: Runbook = {
      ...parseRunbook(
        [
          '# Triggers',
          '',
          '## Enable trigger',
          '',
          '```sql',
          "SELECT tgenabled FROM pg_trigger WHERE tgname = '<trigger>';",
          '```',
          '',
          '```sql',
          'ALTER TABLE <table> ENABLE TRIGGER <trigger>;',
          '```',
          '',
        ].join('\n'),
        'triggers.md',
      ),
      source: { file: 'triggers.md', sha256: 'e'.repeat(64), origin: 'team' },
    };
    const procedure = source.procedures[0]!;
    const action = procedure.steps.find((step) => step.kind === 'action')!;
    const approvals = new ApprovalService({
      requests,
      procedureRuns,
      targets: targets(),
      policy: { defaults: { approvals: 1 } },
      members: async () => [],
      audit,
      queues,
      refusals: new RefusalRepeatStore(pool),
    });
    const process = processorOf(registerApprovalJobs, {
      requests,
      procedureRuns,
      targets: targets(),
      pools,
      queues,
      audit,
      approvals,
      logger,
    });
    const preview = async (values: Record<string, string>) => {
      const { run } = await procedureRuns.create({
        runbook: source,
        procedure,
        target: 'shop',
        requestedBy: 'U0ONCALL',
        params: { trigger: 'queue_audit' },
      });
      await process(
        fakeJob(JOBS.actionPreview, { runId: run.id, stepId: action.id, requestedBy: 'U0ONCALL', values }),
      );
      const { rows } = await pool.query<{ id: string }>('SELECT id FROM action_requests WHERE run_id = $1', [
        run.id,
      ]);
      return { run, requestId: rows[0]?.id };
    };

    const typo = await preview({ table: 'queue_itms' });
    expect(typo.requestId).toBeUndefined();
    const { rows: errors } = await pool.query<{ data: { error?: string } }>(
      "SELECT data FROM audit_events WHERE run_id = $1 AND kind = 'preview'",
      [typo.run.id],
    );
    expect(errors[0]?.data.error).toMatch(/no table queue_itms on this target\. Did you mean queue_items\?/);

    const { requestId } = await preview({ table: 'queue_items' });
    const previewed = await requests.get(requestId!);
    expect(previewed?.sql).toBe('ALTER TABLE "queue_items" ENABLE TRIGGER "queue_audit"');
    expect((previewed!.plan as { sql?: string }).sql).toBe(previewed!.sql);
    await approvals.requestApproval(requestId!, 'U0ONCALL');
    await approvals.approve(requestId!, 'U0SECOND');
    await process(fakeJob(JOBS.executeAction, { requestId: requestId! }));
    expect((await requests.get(requestId!))?.status).toBe('succeeded');
    const { rows } = await target.admin.query<{ tgenabled: string }>(
      "SELECT tgenabled FROM pg_trigger WHERE tgname = 'queue_audit'",
    );
    expect(rows[0]?.tgenabled).toBe('O');
  });

  it('refuses the approval of the person who previewed a medium-risk plan, though someone else requested it', async () => {
    // Alice previews (chooses the plan and its values), Bob presses "Request approval".
    const { requestId, approvals } = await freshRequest(
      { defaults: { approvals: 1 } },
      3,
      runbook,
      'U0ALICE',
    );
    await approvals.requestApproval(requestId, 'U0BOB');
    expect(await approvals.approve(requestId, 'U0ALICE')).toEqual({
      ok: false,
      reason:
        'You previewed this medium-risk action (you chose its plan and values); someone else must approve it.',
    });
    expect((await requests.get(requestId))?.approvers).toEqual([]);
    expect(await approvals.approve(requestId, 'U0CAROL')).toMatchObject({ ok: true });
    expect((await requests.get(requestId))?.status).toBe('approved');
  });

  it('lets the previewer approve a low-risk plan (the default policy), never a high-risk one', () => {
    const subject = { runbook: 'queue-runbook', target: 'shop', targetTags: [] };
    const request = { requestedBy: 'U0BOB', previewedBy: 'U0ALICE' };
    const low = effectivePolicy({ defaults: { self_approval: { low: true } } }, { ...subject, risk: 'low' });
    expect(selfApprovalRefusal(low, { ...request, risk: 'low' }, 'U0ALICE')).toBeUndefined();
    const high = effectivePolicy({ defaults: { self_approval: true } }, { ...subject, risk: 'high' });
    expect(selfApprovalRefusal(high, { ...request, risk: 'high' }, 'U0ALICE')).toMatch(/You previewed/);
    expect(selfApprovalRefusal(high, { ...request, risk: 'high' }, 'U0CAROL')).toBeUndefined();
  });

  it('needs N approvals from N different people', async () => {
    const { requestId, approvals } = await freshRequest({ defaults: { approvals: 2 } });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    expect(await approvals.approve(requestId, 'U0A')).toEqual({
      ok: true,
      text: 'Approval recorded (1 of 2).',
    });
    expect(await approvals.approve(requestId, 'U0A')).toEqual({
      ok: false,
      reason: 'You have already approved this request.',
    });
    expect((await requests.get(requestId))?.status).toBe('pending');
    expect(await approvals.approve(requestId, 'U0B')).toEqual({
      ok: true,
      text: 'Approved: executing now.',
    });
    expect((await requests.get(requestId))?.status).toBe('approved');
  });

  it('refuses an approval after the request expired, and the expiry job marks it expired', async () => {
    const { requestId, approvals, process } = await freshRequest({
      defaults: { approvals: 1, expiry_minutes: 0.005 },
    });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await approvals.approve(requestId, 'U0SECOND')).toEqual({
      ok: false,
      reason: 'This request has expired; preview the action again.',
    });
    await process(fakeJob(JOBS.approvalExpiry, { requestId }));
    expect((await requests.get(requestId))?.status).toBe('expired');
    expect(await failedCount()).toBe(3);
  });

  it('leaves a request pending when its expiry job comes early, and comes back when it is due', async () => {
    const { requestId, approvals, process } = await freshRequest({
      defaults: { approvals: 1, expiry_minutes: 0.5 },
    });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    await process(fakeJob(JOBS.approvalExpiry, { requestId }));
    expect((await requests.get(requestId))?.status).toBe('pending');
    const again = (await queues.queue(QUEUES.remediation).getDelayed()).find((job) =>
      job.id?.startsWith(`expiry-${requestId}-`),
    );
    // When it is due (30 s after the request), not on a fixed poll.
    expect(again?.opts.delay).toBeGreaterThan(20_000);
    expect(again?.opts.delay).toBeLessThanOrEqual(31_000);
  });

  const refusals = async (requestId: string) =>
    (
      await pool.query<{
        seq: string;
        actor: string;
        data: { reason: string; count: number; repeatOf?: number };
      }>(
        "SELECT seq, actor, data FROM audit_events WHERE request_id = $1 AND kind = 'refused' ORDER BY seq",
        [requestId],
      )
    ).rows;

  it('audits every refused click, and collapses repeats of one refusal into one event with their count', async () => {
    const { requestId, approvals } = await freshRequest({ defaults: { approvals: 2 } });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    // A hurried requester presses Approve on their own request ten times at once.
    const clicks = await Promise.all(
      Array.from({ length: 10 }, () => approvals.approve(requestId, 'U0ONCALL')),
    );
    expect(clicks.every((click) => !click.ok)).toBe(true);
    // A duplicate click, and a click after the request moved on: refused, and audited too.
    await approvals.approve(requestId, 'U0A');
    expect(await approvals.approve(requestId, 'U0A')).toMatchObject({ ok: false });
    await approvals.approve(requestId, 'U0B');
    expect(await approvals.approve(requestId, 'U0C')).toMatchObject({
      ok: false,
      reason: 'This request is already approved; it runs as soon as a worker takes it.',
    });
    // Reject, refused for the same reason: a repeat of that refusal.
    expect(await approvals.reject(requestId, 'U0C')).toMatchObject({ ok: false });
    const before = await refusals(requestId);
    expect(before.map((event) => [event.actor, event.data.count])).toEqual([
      ['U0ONCALL', 1],
      ['U0A', 1],
      ['U0C', 1],
    ]);
    // The repeats, quiet since: one event per refusal carrying their count, after the first.
    expect(await approvals.flushRefusals(0)).toBe(2);
    expect((await refusals(requestId)).filter((event) => event.actor === 'U0C').length).toBe(2);
    const after = await refusals(requestId);
    const own = after.filter((event) => event.actor === 'U0ONCALL');
    expect(own.map((event) => event.data.count)).toEqual([1, 9]);
    expect(own[1]!.data.repeatOf).toBe(Number(own[0]!.seq));
    expect(own[0]!.data.reason).toMatch(/You requested this medium-risk action/);
    // In the run's thread: the refusal, then "again 9 times".
    const line = (event: (typeof own)[number]) =>
      auditLine({ kind: 'refused', actor: event.actor, requestId, data: event.data });
    expect(line(own[0]!)).toMatch(/^:no_entry: <@U0ONCALL> was refused on request \S+: You requested/);
    expect(line(own[1]!)).toMatch(
      /^:no_entry: <@U0ONCALL> was refused again 9 times on request \S+: You requested/,
    );
    // Nothing left to flush; the chain is intact.
    expect(await approvals.flushRefusals(0)).toBe(0);
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

  it('lapses an approved request whose execution window passed before a worker started it, and runs nothing', async () => {
    const { requestId, approvals, process } = await freshRequest({
      defaults: { approvals: 1, execution_window_minutes: 0.005 },
    });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    expect(await approvals.approve(requestId, 'U0SECOND')).toMatchObject({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 400));
    // The execution job turns up after the window (the queue was down, no worker was free).
    await process(fakeJob(JOBS.executeAction, { requestId }));
    const lapsed = await requests.get(requestId);
    expect(lapsed?.status).toBe('lapsed');
    expect(await failedCount()).toBe(3);
    const kinds = (
      await pool.query<{ kind: string }>('SELECT kind FROM audit_events WHERE request_id = $1 ORDER BY seq', [
        requestId,
      ])
    ).rows.map((row) => row.kind);
    expect(kinds.slice(-2)).toEqual(['approved', 'lapsed']);
    // The card is re-rendered: it says lapsed, and offers no button.
    const cards = await queues.queue(QUEUES.notifications).getJobs(['waiting', 'delayed', 'prioritized']);
    expect(cards.some((job) => job.name === JOBS.requestCard && job.data.requestId === requestId)).toBe(true);
    const step = runbook.procedures[0]!.steps.find((candidate) => candidate.kind === 'action')!;
    const blocks = requestCardBlocks(lapsed!, step as ActionStep, 2);
    expect(JSON.stringify(blocks)).toMatch(/Lapsed: approved, but not started within its execution window/);
    expect(blocks.some((block) => block.type === 'actions')).toBe(false);
    // A click now is refused with the reason.
    expect(await approvals.approve(requestId, 'U0THIRD')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/execution window passed/),
    });
  });

  it.skipIf(!redisAvailable())(
    'records an approval made while the queue is down, tells the approver, and executes it once when the queue is back',
    async () => {
      const redis = await startTestRedis();
      const redisQueues = await createQueueBackend({ redisUrl: redis.url, databaseUrl: state.url }, logger);
      try {
        const { requestId, approvals, process } = await freshRequest(
          { defaults: { approvals: 1 } },
          3,
          runbook,
          'U0ONCALL',
          redisQueues,
        );
        await approvals.requestApproval(requestId, 'U0ONCALL');
        await redis.stop();
        const approved = await approvals.approve(requestId, 'U0SECOND');
        expect(approved).toMatchObject({
          ok: true,
          text: expect.stringMatching(
            /^Approval recorded\. The job queue is unavailable right now, so it has not started: it runs once, when the queue is back before .* UTC/,
          ),
        });
        expect((await requests.get(requestId))?.status).toBe('approved');
        // Another approver's click is told the same, and adds nothing.
        expect(await approvals.approve(requestId, 'U0THIRD')).toMatchObject({
          ok: false,
          reason: expect.stringMatching(/already approved.*The job queue is unavailable/),
        });
        const stores = { approvals, requests, procedureRuns, incidents: new IncidentStore(pool) };
        const sweep = { ...STRANDED_RUN_SWEEP, approvalQuietSeconds: 0 };
        // While the queue is down the sweep queues nothing, and the request keeps its place.
        await expect(recoverStrandedWork(stores, redisQueues, sweep)).rejects.toThrow(/redis/);
        // Redis comes back empty (no persistence): the job was never there.
        await redis.start();
        await eventually(() =>
          redisQueues.ping().then(
            () => true,
            () => undefined,
          ),
        );
        const first = await recoverStrandedWork(stores, redisQueues, sweep);
        const second = await recoverStrandedWork(stores, redisQueues, sweep);
        expect(first.executions).toContain(requestId);
        expect(second.executions).not.toContain(requestId);
        const jobs = (
          await redisQueues.queue(QUEUES.remediation).getJobs(['waiting', 'delayed', 'prioritized'])
        ).filter((job) => job.name === JOBS.executeAction && job.data.requestId === requestId);
        expect(jobs.map((job) => job.id)).toEqual([requestId]);
        // Every job of it the queue holds, run (as a worker would), twice over.
        for (const job of [...jobs, ...jobs]) await process(job);
        expect((await requests.get(requestId))?.status).toBe('succeeded');
        expect(await failedCount()).toBe(0);
        const started = await pool.query(
          "SELECT count(*)::int AS n FROM audit_events WHERE request_id = $1 AND kind = 'execution_started'",
          [requestId],
        );
        expect(started.rows[0].n).toBe(1);
        expect((await recoverStrandedWork(stores, redisQueues, sweep)).executions).not.toContain(requestId);
      } finally {
        await redisQueues.close();
        await redis.stop();
      }
    },
  );

  it.skipIf(!redisAvailable())(
    'records a request for approval made while the queue is down, and queues its card when it is pressed again',
    async () => {
      const redis = await startTestRedis();
      const redisQueues = await createQueueBackend({ redisUrl: redis.url, databaseUrl: state.url }, logger);
      try {
        const { requestId, approvals } = await freshRequest(
          { defaults: { approvals: 1 } },
          3,
          runbook,
          'U0ONCALL',
          redisQueues,
        );
        await redis.stop();
        expect(await approvals.requestApproval(requestId, 'U0ONCALL')).toEqual({
          ok: true,
          text: expect.stringMatching(
            /^Approval requested\. The job queue is unavailable right now, so the card does not show Approve yet: press Request approval again once the queue is back \(it expires at .* UTC either way\)\.$/,
          ),
        });
        expect((await requests.get(requestId))?.status).toBe('pending');
        await redis.start();
        await eventually(() =>
          redisQueues.ping().then(
            () => true,
            () => undefined,
          ),
        );
        expect(await approvals.requestApproval(requestId, 'U0ONCALL')).toEqual({
          ok: false,
          reason: 'This request is waiting for approval.',
        });
        const remediation = await redisQueues.queue(QUEUES.remediation).getJob(`expiry-${requestId}`);
        expect(remediation?.name).toBe(JOBS.approvalExpiry);
        const cards = await redisQueues.queue(QUEUES.notifications).getJobs(['waiting', 'prioritized']);
        expect(cards.some((job) => job.name === JOBS.requestCard && job.data.requestId === requestId)).toBe(
          true,
        );
      } finally {
        await redisQueues.close();
        await redis.stop();
      }
    },
  );

  it.skipIf(!redisAvailable())(
    'retries the execution job of an approved request that failed before it started, rather than adding another',
    async () => {
      const redis = await startTestRedis();
      const redisQueues = await createQueueBackend({ redisUrl: redis.url, databaseUrl: state.url }, logger);
      // A worker taking jobs by hand, on a Redis of this test's own: the only job is ours.
      const manual = new Worker(QUEUES.remediation, null, {
        connection: { url: redis.url },
        prefix: 'runbook-bot',
      });
      try {
        const { requestId, approvals, process } = await freshRequest(
          { defaults: { approvals: 1 } },
          3,
          runbook,
          'U0ONCALL',
          redisQueues,
        );
        await approvals.requestApproval(requestId, 'U0ONCALL');
        await approvals.approve(requestId, 'U0SECOND');
        // Picked up and failed before it claimed the request (its worker lost the state database, say).
        // (The expiry job is delayed; the execution job is the one waiting.)
        const picked = await manual.getNextJob('manual-token');
        expect(picked?.id).toBe(requestId);
        await picked!.moveToFailed(new Error('state database unavailable'), 'manual-token', false);
        expect(await picked!.getState()).toBe('failed');
        const stores = { approvals, requests, procedureRuns, incidents: new IncidentStore(pool) };
        const sweep = { ...STRANDED_RUN_SWEEP, approvalQuietSeconds: 0 };
        expect((await recoverStrandedWork(stores, redisQueues, sweep)).executions).toContain(requestId);
        const again = await redisQueues.queue(QUEUES.remediation).getJob(requestId);
        expect(await again?.getState()).toBe('waiting');
        await process(again!);
        expect((await requests.get(requestId))?.status).toBe('succeeded');
        expect(await failedCount()).toBe(0);
      } finally {
        await manual.close();
        await redisQueues.close();
        await redis.stop();
      }
    },
  );

  it('lapses an approved request whose job never came, in the sweep', async () => {
    const { requestId, approvals } = await freshRequest({
      defaults: { approvals: 1, execution_window_minutes: 0.005 },
    });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    await approvals.approve(requestId, 'U0SECOND');
    // The queue lost the execution job; the window passes.
    await queues.queue(QUEUES.remediation).remove(requestId);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const stores = { approvals, requests, procedureRuns, incidents: new IncidentStore(pool) };
    const recovered = await recoverStrandedWork(stores, queues, {
      ...STRANDED_RUN_SWEEP,
      approvalQuietSeconds: 0,
    });
    expect(recovered.lapsed).toContain(requestId);
    expect(recovered.executions).not.toContain(requestId);
    expect((await requests.get(requestId))?.status).toBe('lapsed');
    expect(await failedCount()).toBe(3);
  });

  it('queues again the procedure runs and incident openings whose jobs the queue lost, once', async () => {
    const procedure = runbook.procedures[0]!;
    // Recorded in Slack, but the queue lost their jobs (never queued here).
    const { run } = await procedureRuns.create({
      runbook,
      procedure,
      target: 'shop',
      requestedBy: 'U0ONCALL',
      channelId: 'C0OPS',
      params: {},
    });
    const incidents = new IncidentStore(pool);
    const { incident } = await incidents.create({
      title: 'checkout failing',
      severity: 'P1',
      declaredBy: 'U0ONCALL',
      originChannel: 'C0OPS',
      suggestedProcedures: [],
      idempotencyKey: `incident:${Date.now()}`,
    });
    const approvals = new ApprovalService({
      requests,
      procedureRuns,
      targets: targets(),
      policy: {},
      members: async () => [],
      audit,
      queues,
      refusals: new RefusalRepeatStore(pool),
    });
    const stores = { approvals, requests, procedureRuns, incidents };
    const sweep = { ...STRANDED_RUN_SWEEP, quietSeconds: 0 };
    const first = await recoverStrandedWork(stores, queues, sweep);
    expect(first.procedureRuns).toContain(run.id);
    expect(first.incidents).toContain(incident.id);
    const second = await recoverStrandedWork(stores, queues, sweep);
    expect(second.procedureRuns).not.toContain(run.id);
    expect(second.incidents).not.toContain(incident.id);
    expect((await queues.queue(QUEUES.diagnostics).getJob(run.id))?.name).toBe(JOBS.procedureRun);
    expect((await queues.queue(QUEUES.notifications).getJob(`incident-open-${incident.id}`))?.name).toBe(
      JOBS.incidentOpen,
    );
    // A run that finished but whose posts gave up: its post job is retried, not added twice.
    await procedureRuns.markRunning(run.id);
    await procedureRuns.finish(run.id);
    const posted = await recoverStrandedWork(stores, queues, sweep);
    expect(posted.procedureRuns).toContain(run.id);
    expect((await queues.queue(QUEUES.notifications).getJob(`procedure-post-${run.id}`))?.name).toBe(
      JOBS.procedurePost,
    );
    expect((await recoverStrandedWork(stores, queues, sweep)).procedureRuns).not.toContain(run.id);
  });

  describe('plans that offer no approval, and executions that change nothing', () => {
    const step = () => runbook.procedures[0]!.steps.find((s): s is ActionStep => s.kind === 'action')!;
    const cardText = (blocks: unknown) => JSON.stringify(blocks);
    const buttons = (blocks: Array<{ type: string; elements?: Array<{ text?: { text?: string } }> }>) =>
      blocks
        .flatMap((block) => (block.type === 'actions' ? (block.elements ?? []) : []))
        .map((e) => e.text?.text);

    it('previews 0 rows as nothing to do: no Request approval, and a request for it is refused', async () => {
      const { requestId, approvals } = await freshRequest({ defaults: { approvals: 1 } }, 0);
      const previewed = (await requests.get(requestId))!;
      expect(previewed).toMatchObject({ status: 'previewed', blocked: 'it would change no rows' });
      const blocks = requestCardBlocks(previewed, step(), 1);
      expect(buttons(blocks as never)).toEqual(['Discard']);
      expect(cardText(blocks)).toContain(
        'Nothing to do: it would change no rows. There is nothing to approve.',
      );
      expect(cardText(blocks)).toContain('limit 1,000 rows (set by target shop)');
      expect(await approvals.requestApproval(requestId, 'U0ONCALL')).toEqual({
        ok: false,
        reason: 'This plan cannot be approved: it would change no rows.',
      });
      expect((await requests.get(requestId))?.status).toBe('previewed');
      expect(await approvals.reject(requestId, 'U0ONCALL')).toEqual({ ok: true });
    });

    it('records as high risk a plan that would change 100 rows or more, whatever its statement says', async () => {
      const { requestId } = await freshRequest({ defaults: { approvals: 1 } }, 150);
      const previewed = (await requests.get(requestId))!;
      expect(step().risk).toBe('medium');
      expect(previewed.risk).toBe('high');
      expect(previewed.plan).toMatchObject({ riskRaised: 'it would change 150 rows (100 or more)' });
    });

    it("blocks a plan over the target's row limit before approval, saying so on the card", async () => {
      shopMaxRows = 2;
      try {
        const { requestId, approvals } = await freshRequest({ defaults: { approvals: 1 } }, 3);
        const previewed = (await requests.get(requestId))!;
        expect(previewed.blocked).toMatch(
          /^it would change 3 rows, more than its limit of 2 \(set by target shop\)/,
        );
        const blocks = requestCardBlocks(previewed, step(), 1);
        expect(buttons(blocks as never)).toEqual(['Discard']);
        expect(cardText(blocks)).toContain('Over the limit: it would change 3 rows');
        expect(cardText(blocks)).toContain('limit 2 rows (set by target shop)');
        expect(await approvals.requestApproval(requestId, 'U0ONCALL')).toMatchObject({ ok: false });
        expect(await failedCount()).toBe(3);
      } finally {
        shopMaxRows = undefined;
      }
    });

    it('ends an approved request whose rows had gone "nothing done", not succeeded, on the card and in the audit', async () => {
      const { requestId, approvals, process } = await freshRequest({ defaults: { approvals: 1 } }, 1);
      expect((await requests.get(requestId))?.blocked).toBeNull();
      await approvals.requestApproval(requestId, 'U0ONCALL');
      await approvals.approve(requestId, 'U0SECOND');
      await target.admin.query("UPDATE queue_items SET status = 'done'");
      await process(fakeJob(JOBS.executeAction, { requestId }));
      const done = (await requests.get(requestId))!;
      expect(done.status).toBe('nothing_done');
      expect(done.outcome).toMatchObject({
        summary: 'nothing left to do (it would change no rows); nothing was run',
      });
      const blocks = requestCardBlocks(done, step(), 1);
      expect(cardText(blocks)).toContain('Nothing done: nothing was changed');
      expect(buttons(blocks as never)).toEqual([]);
      const finished = await pool.query<{ data: { status: string } }>(
        "SELECT data FROM audit_events WHERE request_id = $1 AND kind = 'execution_finished'",
        [requestId],
      );
      expect(finished.rows[0]?.data.status).toBe('nothing_done');
    });
  });

  it('refuses people outside the approvers list, and a rejected request never runs', async () => {
    const { requestId, approvals, process } = await freshRequest({
      defaults: { approvals: 1, approvers: ['U0LEAD'] },
    });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    expect(await approvals.approve(requestId, 'U0OTHER')).toEqual({
      ok: false,
      reason: 'You are not on the list of approvers for this action.',
    });
    expect(await approvals.reject(requestId, 'U0LEAD')).toEqual({ ok: true });
    await process(fakeJob(JOBS.executeAction, { requestId }));
    expect((await requests.get(requestId))?.status).toBe('rejected');
    expect(await failedCount()).toBe(3);
  });

  it('executes exactly once under 20 concurrent approvals and duplicate execution jobs', async () => {
    const { requestId, approvals, process } = await freshRequest({ defaults: { approvals: 2 } });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    const clicks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => approvals.approve(requestId, `U0APPROVER${i % 5}`)),
    );
    expect(clicks.filter((click) => click.ok && click.text === 'Approved: executing now.')).toHaveLength(1);
    // Five deliveries of the execution job (BullMQ re-delivers a stalled job), run together.
    await Promise.all(Array.from({ length: 5 }, () => process(fakeJob(JOBS.executeAction, { requestId }))));
    const started = await pool.query(
      "SELECT count(*)::int AS n FROM audit_events WHERE request_id = $1 AND kind = 'execution_started'",
      [requestId],
    );
    expect(started.rows[0].n).toBe(1);
    expect((await requests.get(requestId))?.status).toBe('succeeded');
  });

  it('renders the card without the request row locked during the Slack call, ending on the newest state', async () => {
    const { requestId, approvals, run } = await freshRequest({ defaults: { approvals: 1 } });
    await pool.query(
      "UPDATE procedure_runs SET channel_id = 'CCARD', root_ts = '1700000000.000001' WHERE id = $1",
      [run.id],
    );
    const sent: Array<{ method: string; text: string }> = [];
    let slackCalled: () => void = () => undefined;
    const inSlack = new Promise<void>((resolve) => {
      slackCalled = resolve;
    });
    const scope = nock('https://slack.com')
      .post('/api/chat.postMessage')
      .delay(800)
      .reply(200, (_uri, body) => {
        sent.push({ method: 'postMessage', text: new URLSearchParams(body as string).get('text') ?? '' });
        return { ok: true, ts: '1700000000.000002' };
      })
      .persist()
      .post('/api/chat.update')
      .reply(200, (_uri, body) => {
        sent.push({ method: 'update', text: new URLSearchParams(body as string).get('text') ?? '' });
        return { ok: true };
      });
    const slack = new WebClient('xoxb-test', { retryConfig: { retries: 0 } });
    const deps = { requests, procedureRuns, slack, db: pool };
    scope.once('request', () => slackCalled());
    try {
      const first = postRequestCard(deps, requestId, 'job-a');
      await inSlack;
      // While Slack takes its time, the row is free: an approval goes through at once…
      const locked = await pool.connect();
      try {
        await locked.query('BEGIN');
        await locked.query('SELECT 1 FROM action_requests WHERE id = $1 FOR UPDATE NOWAIT', [requestId]);
        await locked.query('ROLLBACK');
      } finally {
        locked.release();
      }
      expect(await approvals.requestApproval(requestId, 'U0ONCALL')).toEqual({ ok: true });
      // …and the card job for that change leaves the card to the one rendering it.
      await postRequestCard(deps, requestId, 'job-b');
      await first;
    } finally {
      nock.cleanAll();
    }
    const current = (await requests.get(requestId))!;
    const step = run.procedure.steps.find((candidate) => candidate.kind === 'action')!;
    expect(current.status).toBe('pending');
    expect(sent.map((call) => call.method)).toEqual(['postMessage', 'update']);
    expect(sent.at(-1)?.text).toBe(requestCardText(current, step as Parameters<typeof requestCardText>[1]));
    expect(current.cardTs).toBe('1700000000.000002');
    const lease = await pool.query('SELECT card_lease_by FROM action_requests WHERE id = $1', [requestId]);
    expect(lease.rows[0].card_lease_by).toBeNull();
  });

  it('marks a request whose worker died mid-execution "outcome unknown" and never runs it again', async () => {
    const { requestId, approvals, process } = await freshRequest({ defaults: { approvals: 1 } });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    await approvals.approve(requestId, 'U0SECOND');
    // The worker got as far as claiming the execution, then died.
    await requests.startExecution(requestId);
    await process(fakeJob(JOBS.executeAction, { requestId }));
    const request = await requests.get(requestId);
    expect(request?.status).toBe('outcome_unknown');
    expect(request?.outcome).toMatchObject({ verification: { after: expect.stringContaining('failed=3') } });
    expect(await failedCount()).toBe(3);
  });

  describe('an archive over the row limit, allowed to run in batches', () => {
    const batched = () => ({
      ...parseRunbook(RUNBOOK.replace('risk=medium', 'risk=medium batched=yes'), 'queue.md'),
      source: runbook.source,
    });

    it('is approved as high risk, runs batch by batch with its progress on the card, and is audited with its counts', async () => {
      const { requestId, approvals, process } = await freshRequest(
        { defaults: { approvals: 1 } },
        2500,
        batched(),
      );
      const previewed = (await requests.get(requestId))!;
      expect(previewed).toMatchObject({ status: 'previewed', risk: 'high', blocked: null });
      expect(
        JSON.stringify(requestCardBlocks(previewed, batched().procedures[0]!.steps[1] as ActionStep, 2)),
      ).toContain('runs in 3 batches of at most 1,000 rows');
      await approvals.requestApproval(requestId, 'U0ONCALL');
      expect(await approvals.approve(requestId, 'U0ONCALL')).toMatchObject({ ok: false });
      expect(await approvals.approve(requestId, 'U0SECOND')).toMatchObject({ ok: true });
      const progress = vi.spyOn(requests, 'recordProgress');
      const cards = vi.spyOn(approvals, 'refreshCard');
      try {
        await process(fakeJob(JOBS.executeAction, { requestId }));
        expect(progress.mock.calls.map(([, outcome]) => outcome.summary)).toEqual([
          'Executing in batches: 1 of 3 batches (1,000 of 2,500 rows) committed',
          'Executing in batches: 2 of 3 batches (2,000 of 2,500 rows) committed',
          'Executing in batches: 3 of 3 batches (2,500 of 2,500 rows) committed',
        ]);
        // The card is refreshed after every batch, and once more when the execution ends.
        expect(cards.mock.calls.length).toBeGreaterThanOrEqual(4);
      } finally {
        progress.mockRestore();
        cards.mockRestore();
      }
      expect(await failedCount()).toBe(0);
      const done = (await requests.get(requestId))!;
      expect(done.status).toBe('succeeded');
      expect(done.outcome).toMatchObject({ summary: 'UPDATE changed 2,500 rows in 3 batches' });
      const finished = await pool.query<{ data: Record<string, unknown> }>(
        "SELECT data FROM audit_events WHERE request_id = $1 AND kind = 'execution_finished'",
        [requestId],
      );
      expect(finished.rows[0]?.data).toMatchObject({
        status: 'succeeded',
        batches: { done: 3, planned: 3, rows: 2500, approvedRows: 2500 },
      });
      // Executed at most once: the job again changes nothing.
      await process(fakeJob(JOBS.executeAction, { requestId }));
      expect((await requests.get(requestId))?.status).toBe('succeeded');
    });

    it('says how many batches were done when its worker died between batches, and never runs it again', async () => {
      const { requestId, approvals, process } = await freshRequest(
        { defaults: { approvals: 1 } },
        2500,
        batched(),
      );
      await approvals.requestApproval(requestId, 'U0ONCALL');
      await approvals.approve(requestId, 'U0SECOND');
      // The worker claimed the execution and recorded two batches, then died.
      await requests.startExecution(requestId);
      const batches = { done: 2, planned: 3, rows: 2000, approvedRows: 2500 };
      expect(
        await requests.recordProgress(requestId, {
          summary: 'Executing in batches: 2 of 3 batches (2,000 of 2,500 rows) committed',
          batches,
        }),
      ).toBe(true);
      // What the card in the thread showed meanwhile.
      const executing = (await requests.get(requestId))!;
      expect(
        JSON.stringify(requestCardBlocks(executing, batched().procedures[0]!.steps[1] as ActionStep, 2)),
      ).toContain('Executing in batches: 2 of 3 batches (2,000 of 2,500 rows) committed');
      await process(fakeJob(JOBS.executeAction, { requestId }));
      const request = (await requests.get(requestId))!;
      expect(request.status).toBe('outcome_unknown');
      expect(request.outcome).toMatchObject({
        summary:
          'The worker stopped during a batched execution: at least 2 of 3 batches (2,000 of 2,500 rows) committed (the batch in flight may have committed too); it was not run again. Preview it again for the rows left.',
        batches,
      });
      const unknown = await pool.query<{ data: Record<string, unknown> }>(
        "SELECT data FROM audit_events WHERE request_id = $1 AND kind = 'outcome_unknown'",
        [requestId],
      );
      expect(unknown.rows[0]?.data).toMatchObject({ batches });
      expect(await failedCount()).toBe(2500);
    });
  });

  it('demands two approvals on production-tagged targets by default', () => {
    const subject = { runbook: 'queue-runbook', target: 'prod', risk: 'high' as const };
    expect(
      effectivePolicy(
        { defaults: { approvals: 1 }, production: { approvals: { high: 2 } } },
        { ...subject, targetTags: ['production'] },
      ).approvals,
    ).toBe(2);
    expect(
      effectivePolicy(
        { defaults: { approvals: 1 }, production: { approvals: { high: 2 } } },
        { ...subject, targetTags: [] },
      ).approvals,
    ).toBe(1);
    expect(
      effectivePolicy({ defaults: { self_approval: true } }, { ...subject, targetTags: [] }).selfApproval,
    ).toBe(false);
  });
});
