import { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import nock from 'nock';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApprovalService } from '../../src/approvals/approvalService.js';
import { effectivePolicy, type PolicyFile } from '../../src/approvals/policy.js';
import { AuditLog } from '../../src/audit/auditLog.js';
import { JOBS, QUEUES } from '../../src/jobs/payloads.js';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/queueBackend.js';
import { remediationProcessor } from '../../src/jobs/remediationJobs.js';
import { postRequestCard } from '../../src/jobs/requestCardPost.js';
import { createLogger } from '../../src/logger.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { Runbook } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { requestCardText } from '../../src/slack/views/requestCard.js';
import { ActionRequestStore } from '../../src/store/actionRequests.js';
import { ProcedureRunStore } from '../../src/store/procedureRuns.js';
import { TargetPools } from '../../src/targets/pools.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import {
  createStateDatabase,
  createTestDatabase,
  openSession,
  type StateDatabase,
  type TestDatabase,
  testTarget,
  withDatabase,
} from '../support/databases.js';

const [server] = inject('postgresServers');

const RUNBOOK = `# Queue Runbook

## Reset failed items

**Diagnosis:**
\`\`\`sql
SELECT status, count(*) AS items FROM queue_items GROUP BY status ORDER BY status;
\`\`\`

**Fix:**
\`\`\`sql
UPDATE queue_items SET status = 'queued' WHERE status = 'failed';
\`\`\`

**Verification:**
\`\`\`sql
SELECT count(*) AS failed FROM queue_items WHERE status = 'failed';
\`\`\`
`;

/**
 * Seed 002's "Database Connection Failures", steps 3 and 4 as written there, with two
 * conditions added so the test touches only its own sessions on a shared server (the seed's
 * "10 minutes" cannot be waited for in a test), and its verification as a count.
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
   AND datname = current_database() AND application_name = 'victim';
   \`\`\`

**Resolution Verification:**
\`\`\`sql
SELECT count(*) AS idle_victims FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'victim';
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
  const targets = () => new TargetRegistry([testTarget(target.url, { name: 'shop' })], 'test');

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

  async function freshRequest(policy: PolicyFile, failedItems = 3, source: Runbook = runbook) {
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
      queues,
    });
    const process = remediationProcessor({
      requests,
      procedureRuns,
      targets: targets(),
      pools,
      queues,
      audit,
      approvals,
      logger,
    });
    const action = procedure.steps.find((step) => step.kind === 'action')!;
    await process(
      fakeJob(JOBS.actionPreview, { runId: run.id, stepId: action.id, requestedBy: 'U0ONCALL', values: {} }),
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

  it('fails an approved request whose target was removed since, visibly, and runs nothing', async () => {
    const { requestId, approvals } = await freshRequest({ defaults: { approvals: 1 } });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    await approvals.approve(requestId, 'U0SECOND');
    // A worker whose configuration no longer has the target.
    const withoutTarget = remediationProcessor({
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
      message: 'You requested this medium-risk action; someone else must approve it.',
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
    for (const session of [...victims, bystander]) await session.query('SELECT 1');
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
    await bystander.end();
  });

  it('needs N approvals from N different people', async () => {
    const { requestId, approvals } = await freshRequest({ defaults: { approvals: 2 } });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    expect(await approvals.approve(requestId, 'U0A')).toEqual({
      ok: true,
      message: 'Approval recorded (1 of 2).',
    });
    expect(await approvals.approve(requestId, 'U0A')).toEqual({
      ok: false,
      message: 'You have already approved this request.',
    });
    expect((await requests.get(requestId))?.status).toBe('pending');
    expect(await approvals.approve(requestId, 'U0B')).toEqual({
      ok: true,
      message: 'Approved: executing now.',
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
      message: 'This request has expired; preview the action again.',
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

  it('refuses people outside the approvers list, and a rejected request never runs', async () => {
    const { requestId, approvals, process } = await freshRequest({
      defaults: { approvals: 1, approvers: ['U0LEAD'] },
    });
    await approvals.requestApproval(requestId, 'U0ONCALL');
    expect(await approvals.approve(requestId, 'U0OTHER')).toEqual({
      ok: false,
      message: 'You are not on the list of approvers for this action.',
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
    expect(clicks.filter((click) => click.ok && click.message === 'Approved: executing now.')).toHaveLength(
      1,
    );
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
    const deps = { requests, procedureRuns, slack };
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
