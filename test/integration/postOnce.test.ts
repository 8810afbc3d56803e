import { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import nock from 'nock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApprovalService } from '../../src/approvals/approvalService.js';
import { registerApprovalJobs } from '../../src/approvals/jobs.js';
import { AuditLog } from '../../src/audit/auditLog.js';
import type { HealthReport } from '../../src/health/types.js';
import { JOBS } from '../../src/jobs/catalog.js';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/queueBackend.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { postAuditMirror } from '../../src/slack/posts/auditMirror.js';
import type { IncidentPostDeps } from '../../src/slack/posts/incidentPosts.js';
import { registerSlackPosts } from '../../src/slack/posts/notifier.js';
import { postProcedureRun } from '../../src/slack/posts/procedurePosts.js';
import { postRequestCard } from '../../src/slack/posts/requestCard.js';
import { ActionRequestStore } from '../../src/store/actionRequests.js';
import { nextToMirror } from '../../src/store/auditOutbox.js';
import { ProcedureRunStore } from '../../src/store/procedureRuns.js';
import { RefusalRepeatStore } from '../../src/store/refusalRepeats.js';
import { RunStore } from '../../src/store/runs.js';
import { TargetPools } from '../../src/targets/pools.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import { captureLogs, interceptPostMessage, type Posted } from '../support/botHarness.js';
import {
  createStateDatabase,
  createTestDatabase,
  type StateDatabase,
  type TestDatabase,
  testTarget,
} from '../support/databases.js';
import { processorOf } from '../support/jobs.js';
import { BOT_TOKEN, interceptHistory, interceptSlackOnly, postKeyOf } from '../support/slack.js';

const [server] = inject('postgresServers');

const REPORT: HealthReport = {
  target: 'prod',
  status: 'warn',
  startedAt: '2026-11-24T10:00:00.000Z',
  durationMs: 42,
  serverVersion: '18.4',
  findings: [],
};

interceptSlackOnly();

/**
 * The state database goes away for every session of the bot, and nobody can connect again
 * until `restore()`: what a failover looks like from the bot (its sessions terminated, the
 * server not accepting yet).
 */
async function loseStateDatabase(state: StateDatabase): Promise<{ restore(): Promise<void> }> {
  // From another database: a database cannot close itself to connections.
  const root = new pg.Client({ connectionString: server!.url });
  await root.connect();
  try {
    await root.query(`ALTER DATABASE ${state.name} ALLOW_CONNECTIONS false`);
    await root.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = $1 AND application_name <> 'test-admin'`,
      [state.name],
    );
  } finally {
    await root.end();
  }
  return {
    restore: async () => {
      await state.admin.query(`ALTER DATABASE ${state.name} ALLOW_CONNECTIONS true`);
    },
  };
}

/**
 * chat.postMessage that Slack accepts, and that takes the state database away just before it
 * answers (the first time only): the post lands, its record cannot be written.
 */
function interceptPostThenLoseState(state: StateDatabase) {
  const posted: Posted[] = [];
  let fault: { restore(): Promise<void> } | undefined;
  let losing: Promise<{ restore(): Promise<void> }> | undefined;
  nock('https://slack.com')
    .persist()
    .post('/api/chat.postMessage')
    .reply((_uri, body, callback) => {
      const params = new URLSearchParams(body as string);
      const ts = `1700000000.${String(posted.length + 1).padStart(6, '0')}`;
      posted.push({
        channel: params.get('channel') ?? '',
        text: params.get('text') ?? '',
        blocks: [],
        threadTs: params.get('thread_ts') ?? undefined,
        ts,
        postKey: postKeyOf(params),
      });
      const answer = () => callback(null, [200, { ok: true, ts }]);
      if (fault) return answer();
      // Posts of one batch arrive together: the database is taken away once, all answered after.
      losing ??= loseStateDatabase(state);
      losing.then(
        (lost) => {
          fault = lost;
          answer();
        },
        (err: Error) => callback(err, [500, '']),
      );
    });
  const history = interceptHistory(() => posted);
  return { posted, lookups: history.lookups, restore: () => fault?.restore() };
}

describe('a post whose record failed is not posted again', () => {
  let state: StateDatabase;
  const slack = new WebClient(BOT_TOKEN, { retryConfig: { retries: 0 } });
  const logs = captureLogs();
  beforeAll(async () => {
    state = await createStateDatabase(server!.url);
    // Idle sessions the fault terminates report it here; the pool opens new ones later.
    state.pool.on('error', () => undefined);
  });
  afterAll(() => state?.drop());
  /** The worker's Slack-post processor, for the health report jobs these tests run. */
  const healthReportProcessor = (runs: RunStore) =>
    processorOf(registerSlackPosts, {
      db: state.pool,
      runs,
      procedureRuns: new ProcedureRunStore(state.pool),
      requests: new ActionRequestStore(state.pool),
      audit: new AuditLog(state.pool),
      slack,
      logger: logs.logger,
      incidentPosts: {} as IncidentPostDeps,
    });

  it('a health report: the retry finds the message in the channel by its metadata', async () => {
    const runs = new RunStore(state.pool);
    const { run } = await runs.createHealthRun({
      target: 'prod',
      requestedBy: 'U0ALICE',
      channelId: 'C0OPS',
    });
    await runs.saveReport(run.id, REPORT);
    const notify = healthReportProcessor(runs);
    const job = { name: JOBS.healthReport, data: { runIds: [run.id] } } as Job;
    const slackApi = interceptPostThenLoseState(state);

    await expect(notify(job)).rejects.toThrow();
    expect(slackApi.posted).toHaveLength(1);
    await slackApi.restore();
    // The first job's lease lapses (120 s); the retry (or the recovery sweep) comes after.
    await state.admin.query("UPDATE runs SET posting_until = now() - interval '1 second' WHERE id = $1", [
      run.id,
    ]);

    await notify(job);
    expect(slackApi.posted).toHaveLength(1);
    expect(slackApi.lookups()).toBe(1);
    expect((await runs.get(run.id))?.postedTs).toBe(slackApi.posted[0]!.ts);
    expect(slackApi.posted[0]!.postKey).toBe(`health-report:${run.id}`);
  });

  it('a batch of health reports: all posted once, the retry finds each one in its channel', async () => {
    const runs = new RunStore(state.pool);
    const ids: string[] = [];
    for (const channel of ['C0ONE', 'C0TWO', 'C0THREE']) {
      const { run } = await runs.createHealthRun({
        target: 'prod',
        requestedBy: 'U0ALICE',
        channelId: channel,
      });
      ids.push(run.id);
    }
    await runs.saveReports(ids, REPORT);
    const notify = healthReportProcessor(runs);
    const job = { name: JOBS.healthReport, data: { runIds: ids } } as Job;
    const slackApi = interceptPostThenLoseState(state);

    // The three posts go out together; the state database is gone before they are recorded.
    await expect(notify(job)).rejects.toThrow();
    expect(slackApi.posted.map((post) => post.channel).sort()).toEqual(['C0ONE', 'C0THREE', 'C0TWO']);
    await slackApi.restore();
    await state.admin.query(
      "UPDATE runs SET posting_until = now() - interval '1 second' WHERE id = ANY($1::uuid[])",
      [ids],
    );

    await notify(job);
    expect(slackApi.posted).toHaveLength(3);
    expect(slackApi.lookups()).toBe(3);
    for (const id of ids) {
      const post = slackApi.posted.find((candidate) => candidate.postKey === `health-report:${id}`);
      expect((await runs.get(id))?.postedTs).toBe(post?.ts);
    }
  });

  it('an audit event in its thread: the retry finds the reply in the thread', async () => {
    const audit = new AuditLog(state.pool);
    const mirror = { channel: 'C0INCIDENT', threadTs: '1700000000.000100' };
    const first = await audit.append({ kind: 'manual_step', actor: 'U0BOB', data: { step: 's1' }, mirror });
    const second = await audit.append({ kind: 'manual_step', actor: 'U0BOB', data: { step: 's2' }, mirror });
    const job = { ...mirror, upToSeq: second.seq };
    const slackApi = interceptPostThenLoseState(state);

    // The retry is the same queue job (BullMQ keeps its id), so it holds the same posting lease.
    const holder = 'mirror-job-1';
    await expect(postAuditMirror({ db: state.pool, slack }, job, holder)).rejects.toThrow();
    await slackApi.restore();
    await postAuditMirror({ db: state.pool, slack }, job, holder);

    expect(slackApi.posted.map((post) => post.postKey)).toEqual([
      `audit-event:${first.seq}`,
      `audit-event:${second.seq}`,
    ]);
    expect(slackApi.posted.every((post) => post.threadTs === mirror.threadTs)).toBe(true);
    expect(slackApi.lookups()).toBe(1);
    expect(await nextToMirror(state.pool, { ...mirror, upToSeq: second.seq })).toBeUndefined();
  });

  it('a procedure run: the root found in the channel, its steps then posted once in its thread', async () => {
    const procedureRuns = new ProcedureRunStore(state.pool);
    const runbook = {
      ...parseRunbook('# Queue\n\n## Drain the queue\n\n```sh\necho draining\n```\n', 'queue.md'),
      source: { file: 'queue.md', sha256: 'f'.repeat(64), origin: 'team' as const },
    };
    const { run } = await procedureRuns.create({
      runbook,
      procedure: runbook.procedures[0]!,
      target: 'shop',
      requestedBy: 'U0ALICE',
      channelId: 'C0OPS',
      params: {},
    });
    const slackApi = interceptPostThenLoseState(state);
    const deps = { procedureRuns, slack, db: state.pool, logger: logs.logger };

    await expect(postProcedureRun(deps, run.id)).rejects.toThrow();
    await slackApi.restore();
    await postProcedureRun(deps, run.id);

    const root = slackApi.posted[0]!;
    expect(slackApi.posted.map((post) => post.postKey)).toEqual([
      `procedure-root:${run.id}`,
      ...runbook.procedures[0]!.steps.map((step) => `procedure-step:${run.id}:${step.id}`),
    ]);
    expect(slackApi.posted.slice(1).every((post) => post.threadTs === root.ts)).toBe(true);
    expect((await procedureRuns.get(run.id))?.rootTs).toBe(root.ts);
  });

  it('posts again, and says so, when the channel history cannot be read', async () => {
    const runs = new RunStore(state.pool);
    const { run } = await runs.createHealthRun({
      target: 'prod',
      requestedBy: 'U0ALICE',
      channelId: 'D0DIRECT',
    });
    await runs.saveReport(run.id, REPORT);
    const notify = healthReportProcessor(runs);
    const job = { name: JOBS.healthReport, data: { runIds: [run.id] } } as Job;
    let posts = 0;
    nock('https://slack.com')
      .persist()
      .post('/api/chat.postMessage')
      .reply(() => {
        posts += 1;
        return posts === 1
          ? [200, { ok: false, error: 'internal_error' }]
          : [200, { ok: true, ts: '1700000009.000001' }];
      })
      .post('/api/conversations.history')
      .reply(200, { ok: false, error: 'missing_scope', needed: 'im:history' });

    await expect(notify(job)).rejects.toThrow(/internal_error/);
    await state.admin.query('UPDATE runs SET posting_until = NULL WHERE id = $1', [run.id]);
    await notify(job);
    expect(posts).toBe(2);
    expect((await runs.get(run.id))?.postedTs).toBe('1700000009.000001');
    expect(logs.lines.join('')).toMatch(/cannot read the channel history.*duplicate is possible/);
  });
});

describe('a request card whose record failed is not posted again', () => {
  let state: StateDatabase;
  let target: TestDatabase;
  let queues: QueueBackend;
  const pools = new TargetPools();
  const logger = captureLogs().logger;
  beforeAll(async () => {
    await loadSqlParser();
    [state, target] = await Promise.all([
      createStateDatabase(server!.url),
      createTestDatabase(server!.url, { demoSchema: false }),
    ]);
    queues = await createQueueBackend({ databaseUrl: state.url }, logger);
  });
  afterAll(async () => {
    await queues?.close();
    await pools.closeAll();
    await Promise.all([state?.drop(), target?.drop()]);
  });

  it("finds the card in the run's thread on the retry", async () => {
    await target.admin.query(`CREATE TABLE queue_items (id serial PRIMARY KEY, status text NOT NULL);
      INSERT INTO queue_items (status) VALUES ('failed'), ('failed');`);
    const runbook = {
      ...parseRunbook(
        "# Queue\n\n## Reset failed items\n\n```sql\nUPDATE queue_items SET status = 'queued' WHERE status = 'failed';\n```\n",
        'queue.md',
      ),
      source: { file: 'queue.md', sha256: 'f'.repeat(64), origin: 'team' as const },
    };
    const procedureRuns = new ProcedureRunStore(state.pool);
    const requests = new ActionRequestStore(state.pool);
    const audit = new AuditLog(state.pool);
    const targets = new TargetRegistry([testTarget(target.url, { name: 'shop' })], 'test');
    const { run } = await procedureRuns.create({
      runbook,
      procedure: runbook.procedures[0]!,
      target: 'shop',
      requestedBy: 'U0ONCALL',
      channelId: 'C0OPS',
      params: {},
    });
    await procedureRuns.markRootPosted(run.id, '1700000000.000100');
    const approvals = new ApprovalService({
      requests,
      procedureRuns,
      targets,
      policy: { defaults: { approvals: 1 } },
      members: async () => [],
      audit,
      queues,
      refusals: new RefusalRepeatStore(state.pool),
    });
    const preview = processorOf(registerApprovalJobs, {
      requests,
      procedureRuns,
      targets,
      pools,
      queues,
      audit,
      approvals,
      logger,
    });
    const action = runbook.procedures[0]!.steps.find((step) => step.kind === 'action')!;
    await preview({
      name: JOBS.actionPreview,
      data: { runId: run.id, stepId: action.id, requestedBy: 'U0ONCALL', values: {} },
    } as Job);
    const { rows } = await state.pool.query<{ id: string }>(
      'SELECT id FROM action_requests WHERE run_id = $1',
      [run.id],
    );
    const requestId = rows[0]!.id;

    const posted: Posted[] = [];
    const slackApi = interceptPostMessage(posted);
    // The card reaches Slack; recording it does not, neither on the card nor beside the
    // attempt (both records are made to fail), so only the thread can tell.
    await state.admin.query(`CREATE FUNCTION refuse_card() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'card record lost'; END $$;
      CREATE TRIGGER refuse_card BEFORE UPDATE OF card_ts ON action_requests
        FOR EACH ROW EXECUTE FUNCTION refuse_card();
      CREATE TRIGGER refuse_attempt BEFORE UPDATE OF posted_ts ON slack_post_attempts
        FOR EACH ROW EXECUTE FUNCTION refuse_card();`);
    const slack = new WebClient(BOT_TOKEN, { retryConfig: { retries: 0 } });
    const deps = { requests, procedureRuns, slack, db: state.pool, logger };
    await expect(postRequestCard(deps, requestId)).rejects.toThrow(/card record lost/);
    await state.admin.query(
      'DROP TRIGGER refuse_card ON action_requests; DROP TRIGGER refuse_attempt ON slack_post_attempts; DROP FUNCTION refuse_card()',
    );
    await postRequestCard(deps, requestId);

    expect(posted.map((post) => post.postKey)).toEqual([`request-card:${requestId}`]);
    expect(posted[0]!.threadTs).toBe('1700000000.000100');
    expect(slackApi.lookups()).toBe(1);
    expect((await requests.get(requestId))?.cardTs).toBe(posted[0]!.ts);
  });
});
