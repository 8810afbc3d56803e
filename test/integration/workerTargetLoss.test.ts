import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { type RunningConsole, startConsole } from '../../src/console/consoleServer.js';
import { JOBS, QUEUES } from '../../src/jobs/catalog.js';
import { createLogger } from '../../src/logger.js';
import { type RunningService, startService } from '../../src/service.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/store/embeddedPostgres.js';
import { eventually } from '../support/botHarness.js';
import { consolePost, consoleState } from '../support/consoleDemo.js';
import { createTestDatabase, openSession, type TestDatabase } from '../support/databases.js';
import { BOT_TOKEN, SIGNING_SECRET } from '../support/slack.js';

const [server] = inject('postgresServers');

/** A check and an action on `items`: a lock on the table makes either wait as long as the test needs. */
const RUNBOOK = `# Loss Runbook

## Unstick items

**Diagnosis:**
\`\`\`sql
-- Stuck items
SELECT count(*) AS stuck FROM items WHERE status = 'stuck';
\`\`\`

**Fix:**
1. Mark them done:
   \`\`\`sql
   UPDATE items SET status = 'done' WHERE status = 'stuck';
   \`\`\`
`;
const PROCEDURE = 'loss-runbook#unstick-items';

/**
 * The target's connection lost under a worker's procedure check, Preview and approved
 * execution, for real: the bot's backends terminated (pg_terminate_backend) and then the
 * target server stopped hard (SIGQUIT to the postmaster, what `pg_ctl stop -m immediate`
 * sends). The worker process stays up and each step reports "connection lost (…)"; the
 * execution, cut before COMMIT, is `failed`. Before any worker runs, the bot's /readyz is
 * not ready and its answers say the work waits for one. Postgres queue backend (no Redis).
 */
describe('a worker whose target connection is lost', () => {
  let state: TestDatabase;
  let targetServer: EmbeddedServer;
  let target: pg.Client;
  let locker: pg.Client;
  let slack: RunningConsole;
  let bot: RunningService;
  let runbooksDir: string;
  let worker: ChildProcess | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    [state, targetServer] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      startEmbeddedPostgres(),
    ]);
    target = await openSession(targetServer.url(), 'test-admin');
    locker = await openSession(targetServer.url(), 'test-locker');
    await target.query(`
      CREATE TABLE items (id int PRIMARY KEY, status text NOT NULL);
      INSERT INTO items SELECT i, CASE WHEN i <= 3 THEN 'stuck' ELSE 'done' END FROM generate_series(1, 10) AS i;`);
    runbooksDir = mkdtempSync(join(tmpdir(), 'loss-runbooks-'));
    writeFileSync(join(runbooksDir, 'loss.md'), RUNBOOK);
    const targetsFile = join(runbooksDir, 'targets.yml');
    // Long timeouts: the bot's sessions wait on the lock until the test cuts them.
    writeFileSync(
      targetsFile,
      'targets:\n  app:\n    url_env: APP_URL\n    statement_timeout_ms: 120000\n    lock_timeout_ms: 120000\n',
    );
    slack = await startConsole({ port: 0, botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET });
    env = {
      DATABASE_URL: state.url,
      TARGETS_FILE: targetsFile,
      APP_URL: targetServer.url(),
      RUNBOOKS_DIR: runbooksDir,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      PORT: '0',
    };
    bot = await startService({
      mode: 'bot',
      config: loadServiceConfig(env, { mode: 'bot' }),
      logger: createLogger({ level: 'silent' }),
    });
    slack.setBotUrl(`http://127.0.0.1:${bot.port}/slack/events`);
  }, 90_000);

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await bot?.stop();
    await slack?.close();
    await locker?.end().catch(() => undefined);
    await target?.end().catch(() => undefined);
    await targetServer?.stop();
    await state?.drop();
    if (runbooksDir) rmSync(runbooksDir, { recursive: true, force: true });
  });

  /** `runbook-bot-server worker` as its own process, from the sources. */
  const startWorker = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
      env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    worker = child;
    return child;
  };
  const alive = (child: ChildProcess | undefined) => child?.exitCode === null && child.signalCode === null;
  /** The running worker, or a new one (each test stands alone); the bot is ready once it beats. */
  const runningWorker = async () => {
    if (!alive(worker)) startWorker();
    await eventually(async () => ((await readyz()).status === 200 ? true : undefined), 60_000);
    return worker;
  };

  const readyz = async () => {
    const response = await fetch(`http://127.0.0.1:${bot.port}/readyz`);
    return { status: response.status, body: await response.text() };
  };

  /** The ephemeral answers Alice has seen, newest last. */
  const answers = async () =>
    (await consoleState(slack.url, 'U0ALICE')).messages
      .filter((message) => message.ephemeral)
      .map((message) => message.text);

  const runProcedure = async () => {
    const before = (await answers()).length;
    await consolePost(slack.url, 'send', {
      user: 'U0ALICE',
      channel: 'C0INCIDENTS',
      text: `/runbook run ${PROCEDURE}`,
    });
    const answer = await eventually(async () => (await answers())[before]);
    const { rows } = await state.admin.query<{
      id: string;
      procedure: { steps: Array<{ id: string; kind: string }> };
    }>('SELECT id, procedure FROM procedure_runs ORDER BY created_at DESC LIMIT 1');
    const run = rows[0]!;
    return {
      answer,
      runId: run.id,
      checkId: run.procedure.steps.find((step) => step.kind === 'check')!.id,
      actionId: run.procedure.steps.find((step) => step.kind === 'action')!.id,
    };
  };

  const checkResult = async (runId: string, stepId: string) => {
    const { rows } = await state.admin.query<{ status: string; result: { error?: string } | null }>(
      'SELECT status, result FROM procedure_steps WHERE run_id = $1 AND step_id = $2',
      [runId, stepId],
    );
    const row = rows[0];
    return row?.result ? { status: row.status, error: row.result.error } : undefined;
  };

  const preview = (runId: string, stepId: string) =>
    bot.queues
      .queue(QUEUES.remediation)
      .add(
        JOBS.actionPreview,
        { runId, stepId, requestedBy: 'U0ALICE', values: {} },
        { jobId: `preview-${runId}-${Date.now()}` },
      );

  const previewError = async (runId: string) => {
    const { rows } = await state.admin.query<{ error: string }>(
      `SELECT data->>'error' AS error FROM audit_events WHERE kind = 'preview' AND run_id = $1 AND data ? 'error'`,
      [runId],
    );
    return rows[0]?.error;
  };

  /** A request for the run's action, previewed by the worker and then marked approved. */
  const approvedRequest = async (runId: string, actionId: string) => {
    await preview(runId, actionId);
    const id = await eventually(async () => {
      const { rows } = await state.admin.query<{ id: string }>(
        'SELECT id FROM action_requests WHERE run_id = $1',
        [runId],
      );
      return rows[0]?.id;
    }, 30_000);
    await state.admin.query(
      `UPDATE action_requests SET status = 'approved', approved_at = now() WHERE id = $1`,
      [id],
    );
    return id;
  };

  const execute = (requestId: string) =>
    bot.queues
      .queue(QUEUES.remediation)
      .add(JOBS.executeAction, { requestId }, { jobId: `execute-${requestId}` });

  const requestOutcome = async (requestId: string) => {
    const { rows } = await state.admin.query<{ status: string; outcome: { summary?: string } | null }>(
      'SELECT status, outcome FROM action_requests WHERE id = $1',
      [requestId],
    );
    const row = rows[0]!;
    return row.status === 'executing' || row.status === 'approved'
      ? undefined
      : { status: row.status, summary: row.outcome?.summary };
  };

  const lockItems = async () => {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
  };

  /** The bot's sessions waiting on the lock, terminated; how many. */
  const terminateWaitingBotSessions = async () => {
    const { rows } = await target.query<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
        WHERE application_name = 'runbook-bot' AND wait_event_type = 'Lock'`,
    );
    return rows.filter((row) => row.terminated).length;
  };

  const stuckCount = async () =>
    (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE status = 'stuck'`))
      .rows[0]!.n;

  it('has the bot say the workers are down, and /readyz not ready, until a worker runs', async () => {
    const notReady = await readyz();
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatch(/no worker has ever been seen/);

    const { answer, runId, checkId } = await runProcedure();
    expect(answer).toMatch(
      /is queued but has not started: runbook-bot's workers are down \(none has been seen\)/,
    );
    expect(answer).toMatch(/runs when a worker is back/);
    const before = (await answers()).length;
    await consolePost(slack.url, 'send', {
      user: 'U0ALICE',
      channel: 'C0INCIDENTS',
      text: '/runbook health',
    });
    expect(await eventually(async () => (await answers())[before])).toMatch(
      /^:warning: The health check on app is queued but has not started: runbook-bot's workers are down/,
    );

    // A worker that was seen, but not for a minute, is as absent.
    await state.admin.query(
      `INSERT INTO worker_heartbeats (worker_id, host, pid, mode, seen_at)
       VALUES (gen_random_uuid(), 'gone', 1, 'worker', now() - interval '1 minute')`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2100)); // past the bot's cached look
    expect((await readyz()).body).toMatch(/no worker seen for 6\d s/);

    // The queued run runs once a worker is back, and the bot is ready again.
    startWorker();
    await eventually(async () => ((await readyz()).status === 200 ? true : undefined), 60_000);
    expect(await eventually(() => checkResult(runId, checkId), 60_000)).toEqual({
      status: 'ok',
      error: undefined,
    });
    const { answer: next } = await runProcedure();
    expect(next).toBe('Running Unstick items on app…');
  }, 180_000);

  it('tells whoever requests approval while the workers are down that the card waits for one', async () => {
    const running = await runningWorker();
    const { runId, actionId } = await runProcedure();
    await preview(runId, actionId);
    const requestId = await eventually(async () => {
      const { rows } = await state.admin.query<{ id: string }>(
        `SELECT id FROM action_requests WHERE run_id = $1 AND status = 'previewed'`,
        [runId],
      );
      return rows[0]?.id;
    }, 30_000);
    type Block = { block_id: string; elements?: Array<{ action_id: string; value?: string }> };
    const requestButton = (blocks: unknown) =>
      ((blocks ?? []) as Block[]).find((block) =>
        block.elements?.some(
          (element) => element.action_id === ACTIONS.requestApproval && element.value === requestId,
        ),
      );
    const card = await eventually(
      async () =>
        (await consoleState(slack.url, 'U0BOB')).messages.find((message) => requestButton(message.blocks)),
      30_000,
    );
    // The worker dies; the bot learns it from the heartbeats (aged here rather than waited for).
    const exited = new Promise((resolve) => running!.once('exit', resolve));
    running!.kill('SIGKILL');
    await exited;
    await state.admin.query(`UPDATE worker_heartbeats SET seen_at = now() - interval '1 minute'`);
    await new Promise((resolve) => setTimeout(resolve, 2100)); // past the bot's cached look
    const bobAnswers = async () =>
      (await consoleState(slack.url, 'U0BOB')).messages
        .filter((message) => message.ephemeral)
        .map((message) => message.text);
    const before = (await bobAnswers()).length;
    await consolePost(slack.url, 'action', {
      user: 'U0BOB',
      channel: card.channel,
      messageTs: card.ts,
      blockId: requestButton(card.blocks)!.block_id,
      actionId: ACTIONS.requestApproval,
    });
    expect(await eventually(async () => (await bobAnswers())[before])).toMatch(
      /is queued but has not started: runbook-bot's workers are down \(none seen for \d+ s\)/,
    );
    const { rows } = await state.admin.query('SELECT status FROM action_requests WHERE id = $1', [requestId]);
    expect(rows[0]?.status).toBe('pending');
  }, 120_000);

  it('keeps the worker up when its backends are terminated mid-check, mid-preview and mid-execution', async () => {
    await runningWorker();
    const forExecution = await runProcedure();
    const requestId = await approvedRequest(forExecution.runId, forExecution.actionId);
    await lockItems();
    try {
      const { runId, checkId, actionId } = await runProcedure();
      await preview(runId, actionId);
      await execute(requestId);
      // The check, the preview and the execution (its verification first, then its re-check)
      // each wait on the lock; every bot session that does is terminated, until all have ended.
      let terminated = 0;
      await eventually(async () => {
        terminated += await terminateWaitingBotSessions();
        const done =
          (await checkResult(runId, checkId)) &&
          (await previewError(runId)) &&
          (await requestOutcome(requestId));
        return done ? true : undefined;
      }, 60_000);
      expect(terminated).toBeGreaterThanOrEqual(3);
      expect(alive(worker)).toBe(true);
      expect(await checkResult(runId, checkId)).toEqual({
        status: 'error',
        error: expect.stringMatching(
          /^connection lost \(terminating connection due to administrator command/,
        ),
      });
      expect(await previewError(runId)).toMatch(
        /^connection lost \(terminating connection due to administrator command/,
      );
      // Cut before COMMIT: rolled back, so failed, not "outcome unknown".
      expect(await requestOutcome(requestId)).toEqual({
        status: 'failed',
        summary: expect.stringMatching(
          /^Failed: connection lost \(terminating connection due to administrator command/,
        ),
      });
    } finally {
      await locker.query('ROLLBACK');
    }
    expect(await stuckCount()).toBe(3);
  }, 120_000);

  it('on SIGTERM, cancels an execution that waits on the target so it ends failed, not abandoned', async () => {
    // A worker of its own, with a short watchdog: past half of it, target statements are cancelled.
    if (alive(worker)) {
      const exited = new Promise((resolve) => worker!.once('exit', resolve));
      worker!.kill('SIGTERM');
      await exited;
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
      env: { ...process.env, ...env, LOG_LEVEL: 'warn', SHUTDOWN_WATCHDOG_MS: '16000' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    worker = child;
    await eventually(async () => ((await readyz()).status === 200 ? true : undefined), 60_000);
    const { runId, actionId } = await runProcedure();
    const requestId = await approvedRequest(runId, actionId);
    await lockItems();
    try {
      await execute(requestId);
      await eventually(async () => {
        const { rows } = await target.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'runbook-bot' AND wait_event_type = 'Lock'`,
        );
        return rows.length > 0 ? true : undefined;
      }, 30_000);
      const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      // Exits by itself, before the watchdog (which exits 1), with the execution recorded.
      expect(await exit).toBe(0);
      expect(await requestOutcome(requestId)).toEqual({
        status: 'failed',
        summary: expect.stringMatching(/canceling statement due to user request/),
      });
    } finally {
      await locker.query('ROLLBACK');
    }
    expect(await stuckCount()).toBe(3);
  }, 120_000);

  it('keeps the worker up when the target server is stopped hard mid-check, mid-preview and mid-execution', async () => {
    await runningWorker();
    const forExecution = await runProcedure();
    const requestId = await approvedRequest(forExecution.runId, forExecution.actionId);
    await eventually(async () =>
      (await checkResult(forExecution.runId, forExecution.checkId)) ? true : undefined,
    );
    await lockItems();
    const { runId, checkId, actionId } = await runProcedure();
    await preview(runId, actionId);
    await execute(requestId);
    // All three waiting on the lock (the execution in its verification or its re-check).
    await eventually(async () => {
      const { rows } = await target.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'runbook-bot' AND wait_event_type = 'Lock'`,
      );
      return rows[0]!.n >= 3 ? true : undefined;
    }, 60_000);
    // SIGQUIT to the postmaster: an immediate shutdown, as `pg_ctl stop -m immediate`.
    const { rows } = await target.query<{ setting: string }>(
      `SELECT setting FROM pg_settings WHERE name = 'data_directory'`,
    );
    const postmasterPid = Number(
      readFileSync(join(rows[0]!.setting, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    process.kill(postmasterPid, 'SIGQUIT');

    const outcome = await eventually(() => requestOutcome(requestId), 60_000);
    const check = await eventually(() => checkResult(runId, checkId), 60_000);
    const previewed = await eventually(() => previewError(runId), 60_000);
    expect(alive(worker)).toBe(true);
    expect(check).toEqual({ status: 'error', error: expect.stringMatching(/^connection lost \(/) });
    expect(previewed).toMatch(/^connection lost \(/);
    expect(outcome).toEqual({
      status: 'failed',
      summary: expect.stringMatching(/^Failed: (connection lost|could not connect)/),
    });
    // Still taking jobs: a run against the stopped target gets its answer.
    const after = await runProcedure();
    const unreachable = await eventually(() => checkResult(after.runId, after.checkId), 60_000);
    expect(unreachable.error).toMatch(/connection refused/);
    expect(alive(worker)).toBe(true);
  }, 180_000);
});
