import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { type RunningService, startService } from '../../src/service.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import { blockViolations } from '../../src/slack/blockLimits.js';
import {
  captureLogs,
  eventually,
  interceptChatUpdate,
  interceptPostMessage,
  type Posted,
  serviceEnv,
} from '../support/botHarness.js';
import { createTestDatabase, openSession, type TestDatabase } from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import { DUPLICATE_TRIGGERS, DUPLICATE_TRIGGERS_DROP } from '../support/seedShapes.js';
import {
  interceptResponseUrls,
  interceptSlackOnly,
  sendBlockAction,
  sendSlashCommand,
  sendViewSubmission,
} from '../support/slack.js';

const [server] = inject('postgresServers');

/** The tables seed 004 ("Production Operations Runbook") queries, with a stuck sync queue. */
const SEED_004_TABLES = `
  CREATE TABLE shopify_sync_queue (
    id serial PRIMARY KEY, inventory_item_id int NOT NULL, action text NOT NULL,
    status text NOT NULL, retry_count int NOT NULL DEFAULT 0, max_retries int NOT NULL DEFAULT 3,
    last_error text, created_at timestamptz NOT NULL DEFAULT now());
  INSERT INTO shopify_sync_queue (inventory_item_id, action, status, retry_count, last_error, created_at)
  SELECT i, 'update', CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'queued' END, CASE WHEN i % 3 = 0 THEN 3 ELSE 0 END,
         CASE WHEN i % 3 = 0 THEN 'Shopify 429' END, now() - interval '30 minutes'
    FROM generate_series(1, 9) AS i;
  CREATE FUNCTION check_queue_health() RETURNS TABLE(status text, items bigint) LANGUAGE sql STABLE AS
    $$ SELECT status, count(*) FROM shopify_sync_queue GROUP BY status ORDER BY status $$;
  CREATE FUNCTION admin_clear_shopify_sync_queue(wanted text) RETURNS int LANGUAGE sql AS
    $$ WITH gone AS (DELETE FROM shopify_sync_queue WHERE status = wanted RETURNING 1) SELECT count(*)::int FROM gone $$;
`;

/** A team's own runbook: a check that needs nothing, an action that needs a pid. */
const TEAM_RUNBOOK = `# Team Runbook

## Cancel a runaway report

**Symptoms:**
- "canceling statement due to statement timeout" in the reporting service

**Diagnosis:**
\`\`\`sql
-- Active queries
SELECT pid, state FROM pg_stat_activity WHERE state = 'active';
\`\`\`

**Fix:**
1. Cancel the query:
   \`\`\`sql
   SELECT pg_cancel_backend([PID]);
   \`\`\`
2. Tell the reporting team in #reports

## Queue health

\`\`\`sql
-- System health, as the queue's own function reports it
SELECT * FROM check_queue_health();
-- Clear the failed items
SELECT admin_clear_shopify_sync_queue('failed');
\`\`\`

## Drain the export backlog

**Fix:**
\`\`\`sql
-- Requeue the failed exports
UPDATE export_backlog SET status = 'queued' WHERE status = 'failed';
\`\`\`

**Verification:**
<!-- runbook: expect="waiting = 0" -->
\`\`\`sql
-- Exports still waiting
SELECT count(*) AS waiting FROM export_backlog WHERE status IN ('failed', 'queued');
\`\`\`

## Read the report view

\`\`\`sql
-- Rows of the report view
SELECT * FROM report_view;
\`\`\`
`;

/** A view whose text looks like a read; reading it terminates the reporting session. */
const REPORT_VIEW = `
  CREATE VIEW report_view AS
    SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'rb-reporting'`;

function threadOf(posted: Posted[], root: Posted): Posted[] {
  // The channel too: a late post of an earlier test's thread can carry the same fake ts.
  return posted.filter((message) => message.channel === root.channel && message.threadTs === root.ts);
}

/** Every text and button id of a message, as plain text (not JSON-escaped). */
function allText(message: Posted): string {
  const texts: string[] = [];
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object')
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'text' || key === 'action_id') && typeof value === 'string') texts.push(value);
        else visit(value);
      }
  };
  visit(message.blocks);
  return texts.join('\n');
}

describe.skipIf(!redisAvailable())('runbook procedures from Slack', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let redis: TestRedis;
  let service: RunningService;
  let teamDir: string;
  const logs = captureLogs();

  beforeAll(async () => {
    [state, target, redis] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url, { demoSchema: false }),
      startTestRedis(),
    ]);
    await target.admin.query(SEED_004_TABLES);
    await target.admin.query(REPORT_VIEW);
    teamDir = mkdtempSync(join(tmpdir(), 'team-runbooks-'));
    writeFileSync(join(teamDir, 'team.md'), TEAM_RUNBOOK);
    const env = {
      ...serviceEnv(state, target, redis.url),
      RUNBOOKS_DIR: teamDir,
      // Everyone these tests click as; anybody else is refused (and, on approval cards, audited).
      ALLOWED_USERS: 'U0ONCALL,U0FIRST,U0LATE,U0SECOND',
    };
    service = await startService({
      mode: 'all',
      config: loadServiceConfig(env, { mode: 'all' }),
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await service?.stop();
    await redis?.stop();
    await Promise.all([state?.drop(), target?.drop()]);
    if (teamDir) rmSync(teamDir, { recursive: true, force: true });
  });
  interceptSlackOnly();

  it('lists, shows and matches procedures from the built-in library and the team directory', async () => {
    const list = await sendSlashCommand(service.port, { text: 'list' });
    expect(list.json?.text).toContain('7 runbooks');
    expect(list.json?.text).toContain('team-runbook#cancel-a-runaway-report');

    const pgrst = await sendSlashCommand(service.port, { text: 'list PGRST002' });
    expect(pgrst.json?.text).toContain(
      'hampton-mowerpower-system-runbook#critical-database-api-connection-lost-error',
    );

    const circuit = await sendSlashCommand(service.port, {
      text: 'match API failing: Circuit breaker is open',
    });
    expect(circuit.json?.text).toMatch(/^\*Procedures for .*\n1\. \*1\. Circuit Breaker Recovery\*/);

    const connections = await sendSlashCommand(service.port, {
      text: 'match FATAL: sorry, too many connections',
    });
    expect(connections.json?.text).toMatch(
      /\n1\. \*Connection [Pp]ool [Ee]xhaustion\* · `[a-z-]+#connection-pool-exhaustion`/,
    );

    const show = await sendSlashCommand(service.port, { text: 'show 2-shopify-sync-queue-stuck' });
    expect(show.json?.text).toContain('production-operations-runbook#2-shopify-sync-queue-stuck');
    // Every action of it reaches a whole queue (a clearing function, `WHERE status = 'failed'`).
    expect(show.json?.text).toContain('action, risk high');

    const unknown = await sendSlashCommand(service.port, { text: 'show no-such-procedure' });
    expect(unknown.json?.text).toContain('No procedure "no-such-procedure"');
    // The use case suggests the commands; Slack spells them as slash commands.
    expect(unknown.json?.text).toContain('`/runbook list` shows them all');
  });

  it("runs a seed procedure's checks against real tables and posts every step in order in one thread", async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const ack = await sendSlashCommand(service.port, {
      text: 'run production-operations-runbook#2-shopify-sync-queue-stuck',
      channel_id: 'CSEED004',
    });
    expect(ack.json).toEqual({
      response_type: 'ephemeral',
      text: 'Running 2. Shopify Sync Queue Stuck on default…',
    });
    const root = await eventually(() =>
      posted.find((message) => message.text.startsWith('Runbook: 2. Shopify')),
    );
    expect(root.channel).toBe('CSEED004');
    const { procedure } = service.runbooks!.resolveProcedure(
      'production-operations-runbook#2-shopify-sync-queue-stuck',
    );
    const steps = await eventually(() => {
      const thread = threadOf(posted, root);
      return thread.length === procedure.steps.length ? thread : undefined;
    });
    expect(steps.map((message) => message.text)).toEqual(
      procedure.steps.map((step, i) => `${i + 1}. ${step.title} (${step.kind})`),
    );
    for (const message of [root, ...steps]) expect(blockViolations(message.blocks)).toEqual([]);
    // The status breakdown: 6 queued, 3 failed, read from the real table.
    expect(allText(steps[0]!)).toMatch(/queued\s+6/);
    expect(allText(steps[0]!)).toMatch(/failed\s+3/);
    // Options A, B and C are actions with a Preview button, never run.
    const actions = steps.filter((message) => message.text.endsWith('(action)'));
    expect(actions).toHaveLength(3);
    for (const action of actions) expect(allText(action)).toContain(ACTIONS.stepPreview);
    const { rows } = await target.admin.query('SELECT count(*)::int AS n FROM shopify_sync_queue');
    expect(rows[0].n).toBe(9);
  });

  it("adds to a seed procedure's thread what the bot's own related check finds, which the page's SQL misses", async () => {
    // Seed 000's fault: two differently named triggers running one function on one event.
    await target.admin.query(DUPLICATE_TRIGGERS);
    try {
      const posted: Posted[] = [];
      interceptPostMessage(posted);
      const id = 'hampton-mowerpower-system-runbook#issue-duplicate-triggers-causing-conflicts';
      await sendSlashCommand(service.port, { text: `run ${id}`, channel_id: 'CSEED000' });
      const root = await eventually(() =>
        posted.find((message) => message.channel === 'CSEED000' && message.text.startsWith('Runbook: Issue')),
      );
      const { procedure } = service.runbooks!.resolveProcedure(id);
      const thread = await eventually(() => {
        const found = threadOf(posted, root);
        return found.length === procedure.steps.length + 1 ? found : undefined;
      });
      // The author's check ran as written and found nothing: it groups by trigger name.
      expect(thread[0]!.text).toBe('1. Find duplicates (check)');
      expect(allText(thread[0]!)).toContain('No rows');
      // Last, after the author's steps: what duplicate_triggers found, and what to run about it.
      const related = thread.at(-1)!;
      expect(blockViolations(related.blocks)).toEqual([]);
      expect(related.text).toBe(
        "The bot's own check duplicate_triggers on default: warn — 1 duplicate trigger pair; public.jobs_db runs bump_version() twice BEFORE UPDATE (jobs_bump_version, jobs_bump_version_v2) → postgres-health#drop-duplicate-trigger schema=public table=jobs_db trigger=jobs_bump_version_v2",
      );
      expect(allText(related)).toContain(
        "The bot's own check `duplicate_triggers` on `default`: *warn* — 1 duplicate trigger pair;",
      );
    } finally {
      await target.admin.query(DUPLICATE_TRIGGERS_DROP);
    }
  });

  it('previews an action, asks for approval, refuses self-approval, executes once after a second person approves', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const updates = interceptChatUpdate();
    const ephemeral = interceptResponseUrls({ persist: true });
    await sendSlashCommand(service.port, {
      text: 'run production-operations-runbook#2-shopify-sync-queue-stuck',
      channel_id: 'CPREVIEW',
      user_id: 'U0ONCALL',
    });
    const root = await eventually(() =>
      posted.find((message) => message.channel === 'CPREVIEW' && !message.threadTs),
    );
    const optionC = await eventually(() =>
      threadOf(posted, root).find((message) => allText(message).includes('UPDATE shopify_sync_queue')),
    );
    const stepValue = (
      optionC.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
    ).elements[0]!.value;
    await sendBlockAction(service.port, {
      actionId: ACTIONS.stepPreview,
      value: stepValue,
      channelId: 'CPREVIEW',
      userId: 'U0ONCALL',
    });

    // The card: the plan (3 rows, counted in a rolled-back transaction) and "Request approval".
    const card = await eventually(() =>
      threadOf(posted, root).find((message) => allText(message).includes(ACTIONS.requestApproval)),
    );
    expect(allText(card)).toMatch(/3 rows/);
    const failed = async () =>
      (await target.admin.query("SELECT count(*)::int AS n FROM shopify_sync_queue WHERE status = 'failed'"))
        .rows[0].n;
    expect(await failed()).toBe(3);
    const requestId = (
      card.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
    ).elements[0]!.value;

    await sendBlockAction(service.port, {
      actionId: ACTIONS.requestApproval,
      value: requestId,
      channelId: 'CPREVIEW',
      userId: 'U0ONCALL',
      messageTs: card.ts,
    });
    await eventually(() =>
      updates.find((update) => update.ts === card.ts && update.blocks.includes(ACTIONS.approve)),
    );

    await sendBlockAction(service.port, {
      actionId: ACTIONS.approve,
      value: requestId,
      channelId: 'CPREVIEW',
      userId: 'U0ONCALL',
      messageTs: card.ts,
    });
    expect(
      await eventually(() =>
        ephemeral
          .map((answer) => answer.text ?? '')
          .find((text) => text.includes('someone else must approve')),
      ),
    ).toBe('You requested this high-risk action; someone else must approve it.');
    expect(await failed()).toBe(3);
    // Someone outside ALLOWED_USERS: refused before the approval rules, and audited all the same.
    await sendBlockAction(service.port, {
      actionId: ACTIONS.approve,
      value: requestId,
      channelId: 'CPREVIEW',
      userId: 'U0STRANGER',
      messageTs: card.ts,
    });
    await eventually(() =>
      ephemeral.find((answer) => (answer.text ?? '').includes('not on the list of people allowed')),
    );
    const strangers = await state.admin.query(
      "SELECT data->>'reason' AS reason FROM audit_events WHERE request_id = $1 AND kind = 'refused' AND actor = 'U0STRANGER'",
      [requestId],
    );
    expect(strangers.rows).toEqual([{ reason: expect.stringMatching(/ALLOWED_USERS/) }]);

    await sendBlockAction(service.port, {
      actionId: ACTIONS.approve,
      value: requestId,
      channelId: 'CPREVIEW',
      userId: 'U0SECOND',
      messageTs: card.ts,
    });
    const outcome = await eventually(() =>
      updates.find((update) => update.ts === card.ts && update.text.endsWith(': succeeded')),
    );
    expect(outcome.blocks).not.toContain(ACTIONS.approve);
    expect(await failed()).toBe(0);

    // The audit trail is mirrored into the run's thread, in order.
    const mirrored = await eventually(() => {
      const lines = threadOf(posted, root)
        .filter((message) => !message.blocks.length || message.text.includes('<@'))
        .map((message) => message.text);
      return lines.some((line) => line.toLowerCase().includes('verification')) ? lines : undefined;
    });
    const order = ['preview', 'approval', 'refused', 'approved', 'execution', 'verification'].map((word) =>
      mirrored.findIndex((line) => line.toLowerCase().includes(word)),
    );
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
  });

  it('runs a function the target declares STABLE as a check, keeps a VOLATILE one an action, and posts what the action returned', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const updates = interceptChatUpdate();
    interceptResponseUrls({ persist: true });
    // One more failed item, whatever earlier tests cleared: the preview counts what the call would delete.
    await target.admin.query(
      "INSERT INTO shopify_sync_queue (inventory_item_id, action, status) VALUES (99, 'update', 'failed')",
    );
    const failedBefore = (
      await target.admin.query("SELECT count(*)::int AS n FROM shopify_sync_queue WHERE status = 'failed'")
    ).rows[0].n;
    await sendSlashCommand(service.port, { text: 'run team-runbook#queue-health', channel_id: 'CFUNCS' });
    const root = await eventually(() =>
      posted.find((message) => message.channel === 'CFUNCS' && !message.threadTs),
    );
    const [health, clear] = await eventually(() => {
      const thread = threadOf(posted, root);
      return thread.length >= 2 ? thread : undefined;
    });
    // Neither function is known to the bot; the target's catalog decided.
    expect(health!.text).toBe("1. System health, as the queue's own function reports it (check)");
    // Its rows (the queue as the earlier tests left it), as any check's are shown.
    expect(allText(health!)).toMatch(/```status +items\n(\w+ +\d+\n?)+```/);
    expect(clear!.text).toBe('2. Clear the failed items (action)');
    expect(allText(clear!)).toContain(
      'on this target: calls public.admin_clear_shopify_sync_queue(wanted text), a VOLATILE function',
    );
    expect(allText(root)).toContain('1 check runs now; 1 action needs a preview and approval');

    const value = (
      clear!.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
    ).elements[0]!.value;
    await sendBlockAction(service.port, {
      actionId: ACTIONS.stepPreview,
      value,
      channelId: 'CFUNCS',
      userId: 'U0ONCALL',
    });
    const card = await eventually(() =>
      threadOf(posted, root).find((message) => allText(message).includes(ACTIONS.requestApproval)),
    );
    const requestId = (
      card.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
    ).elements[0]!.value;
    const click = (actionId: string, userId: string) =>
      sendBlockAction(service.port, {
        actionId,
        value: requestId,
        channelId: 'CFUNCS',
        userId,
        messageTs: card.ts,
      });
    await click(ACTIONS.requestApproval, 'U0ONCALL');
    await eventually(() =>
      updates.find((update) => update.ts === card.ts && update.blocks.includes(ACTIONS.approve)),
    );
    await click(ACTIONS.approve, 'U0SECOND');
    const outcome = await eventually(() =>
      updates.find((update) => update.ts === card.ts && update.text.endsWith(': succeeded')),
    );
    // Tried in a rolled-back transaction, the call was counted before approval…
    expect(allText(card)).toContain(
      `SELECT would delete ${failedBefore === 1 ? '1 row' : `${failedBefore} rows`} of public.shopify_sync_queue (tried in a transaction that was rolled back)`,
    );
    // …and what the function returned is shown as a check's rows are, not only "SELECT done".
    expect(outcome.blocks).toContain(
      `SELECT changed ${failedBefore === 1 ? '1 row' : `${failedBefore} rows`}; returned 1 row`,
    );
    expect(JSON.stringify(JSON.parse(outcome.blocks))).toContain(
      JSON.stringify(`\`\`\`admin_clear_shopify_sync_queue\n${failedBefore}\`\`\``),
    );
  });

  it('says a fix that leaves its verification failing is not a success: on the card, in the thread and in the audit', async () => {
    await target.admin.query(`
      CREATE TABLE export_backlog (id int PRIMARY KEY, status text NOT NULL);
      INSERT INTO export_backlog VALUES (1, 'failed'), (2, 'failed'), (3, 'done');`);
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const updates = interceptChatUpdate();
    interceptResponseUrls({ persist: true });
    await sendSlashCommand(service.port, {
      text: 'run team-runbook#drain-the-export-backlog',
      channel_id: 'CVERIFY',
      user_id: 'U0ONCALL',
    });
    const root = await eventually(() =>
      posted.find((message) => message.channel === 'CVERIFY' && !message.threadTs),
    );
    const [fix, check] = await eventually(() => {
      const thread = threadOf(posted, root);
      return thread.length >= 2 ? thread : undefined;
    });
    // The verification check ran with the procedure: red, with what it expected and found.
    expect(check!.text).toBe('2. Exports still waiting (check)');
    expect(allText(check!)).toContain(':red_circle: not met');
    expect(allText(check!)).toContain('Expected waiting = 0, got waiting = 2.');

    const value = (
      fix!.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
    ).elements[0]!.value;
    await sendBlockAction(service.port, {
      actionId: ACTIONS.stepPreview,
      value,
      channelId: 'CVERIFY',
      userId: 'U0ONCALL',
    });
    const card = await eventually(() =>
      threadOf(posted, root).find((message) => allText(message).includes(ACTIONS.requestApproval)),
    );
    const requestId = (
      card.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
    ).elements[0]!.value;
    const click = (actionId: string, userId: string) =>
      sendBlockAction(service.port, {
        actionId,
        value: requestId,
        channelId: 'CVERIFY',
        userId,
        messageTs: card.ts,
      });
    await click(ACTIONS.requestApproval, 'U0ONCALL');
    await eventually(() =>
      updates.find((update) => update.ts === card.ts && update.blocks.includes(ACTIONS.approve)),
    );
    await click(ACTIONS.approve, 'U0SECOND');

    // The UPDATE ran (failed → queued), and the exports are still waiting: not a success.
    const outcome = await eventually(() =>
      updates.find(
        (update) => update.ts === card.ts && update.text.endsWith(': executed, but verification still fails'),
      ),
    );
    const cardText = allText({ blocks: JSON.parse(outcome.blocks) } as Posted);
    expect(cardText).toContain(':red_circle: Executed, but verification still fails');
    expect(cardText).toContain(
      'executed, but verification still fails: Exports still waiting: expected waiting = 0, got waiting = 2',
    );
    // Before and after read the same way, the after marked red.
    expect(cardText).toContain(
      'verification before: Exports still waiting: 1 row: waiting=2 (expected waiting = 0: not met); :red_circle: after: Exports still waiting: 1 row: waiting=2 (expected waiting = 0: not met)',
    );
    expect(cardText).not.toContain(':white_check_mark: Executed');
    const { rows } = await target.admin.query(
      "SELECT count(*)::int AS n FROM export_backlog WHERE status = 'queued'",
    );
    expect(rows[0].n).toBe(2);
    const request = await state.admin.query('SELECT status FROM action_requests WHERE id = $1', [requestId]);
    expect(request.rows[0].status).toBe('succeeded');

    // The audit trail and its mirror in the thread say the same.
    const audit = await state.admin.query(
      "SELECT kind, data FROM audit_events WHERE request_id = $1 AND kind IN ('execution_finished', 'verification') ORDER BY seq",
      [requestId],
    );
    expect(audit.rows.map((row) => [row.kind, row.data.met])).toEqual([
      ['execution_finished', false],
      ['verification', false],
    ]);
    const mirrored = await eventually(() =>
      threadOf(posted, root).find((message) => message.text.includes('verification still fails')),
    );
    expect(mirrored.text).toMatch(
      /^:red_circle: executed, but verification still fails: Exports still waiting/,
    );
  });

  it('does not run a check whose view terminates a backend: it is offered as an action, with the reason', async () => {
    const reporting = await openSession(target.url, 'rb-reporting');
    const reportingAlive = async () =>
      (
        await target.admin.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'rb-reporting'",
        )
      ).rows[0].n;
    try {
      const posted: Posted[] = [];
      interceptPostMessage(posted);
      await sendSlashCommand(service.port, {
        text: 'run team-runbook#read-the-report-view',
        channel_id: 'CVIEW',
      });
      const root = await eventually(() =>
        posted.find((message) => message.channel === 'CVIEW' && !message.threadTs),
      );
      const step = await eventually(() => threadOf(posted, root)[0]);
      expect(step.text).toBe('1. Rows of the report view (action)');
      expect(allText(step)).toContain(
        'not run as a check: view public.report_view calls pg_terminate_backend, which terminates backends',
      );
      expect(allText(step)).toContain('risk *high*');
      expect(allText(step)).toContain(ACTIONS.stepPreview);
      expect(allText(root)).toContain('0 checks run now; 1 action needs a preview and approval');
      expect(await reportingAlive()).toBe(1);

      // Its preview describes it without running it.
      const value = (
        step.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
      ).elements[0]!.value;
      await sendBlockAction(service.port, {
        actionId: ACTIONS.stepPreview,
        value,
        channelId: 'CVIEW',
        userId: 'U0ONCALL',
      });
      const card = await eventually(() =>
        threadOf(posted, root).find((message) => allText(message).includes(ACTIONS.requestApproval)),
      );
      expect(allText(card)).toContain('not run for the preview');
      expect(await reportingAlive()).toBe(1);
    } finally {
      await reporting.end().catch(() => undefined);
    }
  });

  it('names a missing or invalid parameter with its type and an example, and starts nothing', async () => {
    // Its diagnosis looks the user up: without the email there is nothing to run.
    const missing = await sendSlashCommand(service.port, {
      text: 'run production-operations-runbook#5-authentication-issues',
    });
    expect(missing.json?.text).toContain('user_email is missing: an email address');
    expect(missing.json?.text).toContain('e.g. user_email=');

    const injected = await sendSlashCommand(service.port, {
      text: 'run postgres-health#terminate-idle-in-transaction pid="1; DROP TABLE shopify_sync_queue"',
    });
    expect(injected.json?.text).toContain('pid must be an integer');

    const typo = await sendSlashCommand(service.port, {
      text: 'run postgres-health#vacuum-table tabel=jobs',
    });
    expect(typo.json?.text).toContain('tabel is not a parameter of this procedure');

    const { rows } = await state.admin.query(
      'SELECT count(*)::int AS n FROM procedure_runs WHERE procedure_id LIKE $1 OR procedure_id LIKE $2',
      ['postgres-health#terminate%', 'production-operations-runbook#5-%'],
    );
    expect(rows[0].n).toBe(0);
  });

  it('starts a fix without the pid its diagnosis finds, and Preview offers the pids found', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const opened: Array<{ view: { private_metadata: string; blocks: unknown[] } }> = [];
    nock('https://slack.com')
      .post('/api/views.open')
      .reply(200, (_uri, body) => {
        opened.push({ view: JSON.parse(new URLSearchParams(body as string).get('view') ?? '{}') });
        return { ok: true };
      });
    const idle = await openSession(target.url, 'rb-idle-test');
    try {
      await idle.query('BEGIN');
      const { rows } = await idle.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const pid = String(rows[0]!.pid);
      const ack = await sendSlashCommand(service.port, {
        text: 'run postgres-health#terminate-idle-in-transaction',
        channel_id: 'CIDLE',
      });
      expect(ack.json?.text).toBe('Running Terminate idle in transaction on default…');
      const root = await eventually(() =>
        posted.find((message) => message.channel === 'CIDLE' && !message.threadTs),
      );
      const [diagnosis, action, verification] = await eventually(() => {
        const thread = threadOf(posted, root);
        return thread.length === 3 ? thread : undefined;
      });
      expect(allText(diagnosis!)).toContain(pid);
      // The verification waits for the pid chosen at Preview instead of failing without it.
      expect(allText(verification!)).toContain('Runs with the fix, before and after it');
      expect(allText(verification!)).not.toContain('pid is missing');

      const value = (
        action!.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
      ).elements[0]!.value;
      await sendBlockAction(service.port, { actionId: ACTIONS.stepPreview, value, channelId: 'CIDLE' });
      const modal = await eventually(() => opened[0]);
      const menu = modal.view.blocks.find((block) => (block as { block_id?: string }).block_id === 'pid') as {
        element: { type: string; options: Array<{ text: { text: string }; value: string }> };
      };
      expect(menu.element.type).toBe('static_select');
      const option = menu.element.options.find((candidate) => candidate.value === pid);
      // The rest of the row tells the sessions apart.
      expect(option?.text.text).toContain(`${pid} · `);
      expect(option?.text.text).toContain('rb-idle-test');

      const both = await sendViewSubmission(service.port, {
        callbackId: ACTIONS.parametersModal,
        privateMetadata: modal.view.private_metadata,
        selected: { pid },
        values: { 'pid.typed': '1' },
      });
      expect(both.json?.errors?.pid).toContain('not both');

      const chosen = await sendViewSubmission(service.port, {
        callbackId: ACTIONS.parametersModal,
        privateMetadata: modal.view.private_metadata,
        selected: { pid },
        values: { 'pid.typed': '' },
      });
      expect(chosen.status).toBe(200);
      expect(chosen.json?.response_action).toBeUndefined();
      const card = await eventually(() =>
        threadOf(posted, root).find((message) => allText(message).includes(`\`$1\` = \`${pid}\` (pid)`)),
      );
      expect(allText(card)).toContain('pg_terminate_backend($1)');
    } finally {
      await idle.end().catch(() => undefined);
    }
  });

  it('binds an injection attempt as a plain value: the check runs and finds nothing', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const ack = await sendSlashCommand(service.port, {
      text: `run postgres-health#drop-replication-slot slot_name="' OR 1=1 --"`,
      channel_id: 'CINJECT',
    });
    expect(ack.json?.text).toContain('Running Drop replication slot');
    const root = await eventually(() =>
      posted.find((message) => message.channel === 'CINJECT' && !message.threadTs),
    );
    const verification = await eventually(() =>
      threadOf(posted, root).find((message) => allText(message).includes('still_there')),
    );
    expect(allText(verification)).toMatch(/still_there\s+0/);
    const { rows } = await target.admin.query('SELECT count(*)::int AS n FROM shopify_sync_queue');
    expect(rows[0].n).toBe(9);
  });

  it("asks for an action's missing parameter in a modal, validates it there, then previews with the bound value", async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const opened: Array<{
      view: {
        callback_id: string;
        private_metadata: string;
        blocks: Array<{ type: string; block_id?: string }>;
      };
    }> = [];
    nock('https://slack.com')
      .post('/api/views.open')
      .reply(200, (_uri, body) => {
        const params = new URLSearchParams(body as string);
        opened.push({ view: JSON.parse(params.get('view') ?? '{}') });
        return { ok: true };
      });
    await sendSlashCommand(service.port, {
      text: 'run team-runbook#cancel-a-runaway-report',
      channel_id: 'CTEAM',
    });
    const root = await eventually(() =>
      posted.find((message) => message.channel === 'CTEAM' && !message.threadTs),
    );
    const action = await eventually(() =>
      threadOf(posted, root).find((message) => message.text.endsWith('(action)')),
    );
    const value = (
      action.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
    ).elements[0]!.value;
    await sendBlockAction(service.port, { actionId: ACTIONS.stepPreview, value, channelId: 'CTEAM' });
    const modal = await eventually(() => opened[0]);
    expect(modal.view.callback_id).toBe(ACTIONS.parametersModal);
    expect(JSON.stringify(modal.view.blocks)).toContain('integer, e.g.');

    const rejected = await sendViewSubmission(service.port, {
      callbackId: ACTIONS.parametersModal,
      privateMetadata: modal.view.private_metadata,
      values: { pid: "' OR 1=1 --" },
    });
    expect(rejected.json?.response_action).toBe('errors');
    expect(rejected.json?.errors?.pid).toContain('pid must be an integer');

    // Left blank: an error under the field, not a preview job that cannot bind its statement.
    const blank = await sendViewSubmission(service.port, {
      callbackId: ACTIONS.parametersModal,
      privateMetadata: modal.view.private_metadata,
      values: { pid: '' },
    });
    expect(blank.json?.errors?.pid).toContain('pid is missing');

    const accepted = await sendViewSubmission(service.port, {
      callbackId: ACTIONS.parametersModal,
      privateMetadata: modal.view.private_metadata,
      values: { pid: '4242' },
    });
    expect(accepted.status).toBe(200);
    const card = await eventually(() =>
      threadOf(posted, root).find((message) => allText(message).includes('`$1` = `4242` (pid)')),
    );
    expect(allText(card)).toContain('pg_cancel_backend($1)');
    // No backend has pid 4242: there is nothing to signal, so nothing to request.
    expect(allText(card)).toContain('Nothing to do: no backend of database');
    expect(allText(card)).not.toContain(ACTIONS.requestApproval);
  });

  it('records who ticked off a manual step, once, and replaces its Done button', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const responses = interceptResponseUrls<{
      replace_original?: boolean;
      text?: string;
      blocks?: unknown[];
    }>({
      persist: true,
    });
    await sendSlashCommand(service.port, {
      text: 'run team-runbook#cancel-a-runaway-report',
      channel_id: 'CMANUAL',
    });
    const root = await eventually(() =>
      posted.find((message) => message.channel === 'CMANUAL' && !message.threadTs),
    );
    const manual = await eventually(() =>
      threadOf(posted, root).find((message) => message.text.endsWith('(manual)')),
    );
    const value = (
      manual.blocks.find((block) => block.type === 'actions') as { elements: Array<{ value: string }> }
    ).elements[0]!.value;
    await sendBlockAction(service.port, {
      actionId: ACTIONS.manualDone,
      value,
      channelId: 'CMANUAL',
      userId: 'U0FIRST',
    });
    const replaced = await eventually(() => responses.find((response) => response.replace_original));
    expect(JSON.stringify(replaced.blocks)).toContain('Done by <@U0FIRST>');
    expect(JSON.stringify(replaced.blocks)).not.toContain(ACTIONS.manualDone);

    await sendBlockAction(service.port, {
      actionId: ACTIONS.manualDone,
      value,
      channelId: 'CMANUAL',
      userId: 'U0LATE',
    });
    const told = await eventually(() =>
      responses.find((response) => response.text?.startsWith('Already done')),
    );
    expect(told.text).toContain('<@U0FIRST>');
    const { rows } = await state.admin.query(
      "SELECT done_by FROM procedure_steps WHERE kind = 'manual' AND done_by IS NOT NULL",
    );
    expect(rows).toEqual([{ done_by: 'U0FIRST' }]);
  });

  it('reads a new team runbook on /runbook reload', async () => {
    writeFileSync(
      join(teamDir, 'late.md'),
      '# Late Runbook\n\n## Count jobs\n\n```sql\nSELECT 1 AS one;\n```\n',
    );
    expect(
      (await sendSlashCommand(service.port, { text: 'show late-runbook#count-jobs' })).json?.text,
    ).toContain('No procedure');
    // Acknowledged at once; the summary follows through the response URL when the files are read.
    const answers = interceptResponseUrls();
    const reload = await sendSlashCommand(service.port, { text: 'reload' });
    expect(reload.json?.text).toBe('Reloading the runbook files…');
    expect(await eventually(() => answers[0]?.text)).toMatch(/^Reloaded 8 runbooks/);
    const show = await sendSlashCommand(service.port, { text: 'show late-runbook#count-jobs' });
    expect(show.json?.text).toContain('*Count jobs*');
  });
});
