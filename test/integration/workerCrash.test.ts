import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withTimeout } from '../../src/concurrency/withTimeout.js';
import { loadServiceConfig } from '../../src/config.js';
import { type RunningConsole, startConsole } from '../../src/console/consoleServer.js';
import { createLogger } from '../../src/logger.js';
import { type RunningService, startService } from '../../src/service.js';
import { eventually, untilReady } from '../support/botHarness.js';
import { consolePost, consoleState } from '../support/consoleDemo.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import { BOT_TOKEN, SIGNING_SECRET } from '../support/slack.js';

const [server] = inject('postgresServers');

/**
 * A worker process killed (SIGKILL) in the middle of a health job: the job is taken over by
 * another worker once its lock lapses, the report is posted once, and nothing is lost. Real
 * processes, real Redis, the local console standing in for Slack.
 */
describe.skipIf(!redisAvailable())('a worker killed mid-job', () => {
  let redis: TestRedis;
  let state: TestDatabase;
  let slack: RunningConsole;
  let bot: RunningService;
  let silent: Server;
  const sockets: Socket[] = [];
  const workers: ChildProcess[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    [redis, state] = await Promise.all([
      startTestRedis(),
      createTestDatabase(server!.url, { demoSchema: false }),
    ]);
    // A "database" that accepts connections and never answers: the health job waits on it
    // (for the connect timeout), which is when the worker is killed.
    silent = createServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    slack = await startConsole({ port: 0, botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET });
    env = {
      DATABASE_URL: state.url,
      REDIS_URL: redis.url,
      TARGET_DATABASE_URL: `postgres://monitor:secret@127.0.0.1:${silentPort}/app`,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      PORT: '0',
      JOB_LOCK_MS: '1500',
    };
    bot = await startService({
      mode: 'bot',
      config: loadServiceConfig(env, { mode: 'bot' }),
      logger: createLogger({ level: 'silent' }),
    });
    slack.setBotUrl(`http://127.0.0.1:${bot.port}/slack/events`);
  }, 60_000);

  afterAll(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    await bot?.stop();
    await slack?.close();
    for (const socket of sockets) socket.destroy();
    silent?.close();
    await redis?.stop();
    await state?.drop();
  });

  /**
   * `runbook-bot-server worker` as its own process, from the sources; `started` resolves
   * once it says so (its signal handlers are in place by then).
   */
  const startWorker = () => {
    const worker = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
      env: { ...process.env, ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    workers.push(worker);
    const started = new Promise<void>((resolve) => {
      let output = '';
      worker.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('"msg":"runbook-bot started"')) resolve();
      });
    });
    return Object.assign(worker, { started });
  };

  /** How the worker ended: its exit code, or the signal that ended it. */
  const ending = (worker: ChildProcess) =>
    new Promise((resolve) => worker.once('exit', (code, signal) => resolve(signal ?? code)));

  const killRunningWorkers = async () => {
    for (const running of workers.filter(
      (worker) => worker.exitCode === null && worker.signalCode === null,
    )) {
      running.kill('SIGKILL');
      await new Promise((resolve) => running.once('exit', resolve));
    }
  };

  /** Redis back (empty), and the bot connected to it again before the next command. */
  const restartRedis = async () => {
    await redis.start();
    await untilReady(bot.port);
  };

  const runStatus = async () => {
    const { rows } = await state.admin.query<{ status: string; report_status: string | null }>(
      'SELECT status, report_status FROM runs ORDER BY created_at DESC LIMIT 1',
    );
    return rows[0];
  };

  const reports = async () =>
    (await consoleState(slack.url, 'U0ALICE')).messages.filter(
      (message) => message.user === slack.workspace.bot.userId && !message.ephemeral,
    );

  it('is taken over by another worker, and the report is posted once', async () => {
    const first = startWorker();
    const sent = await consolePost(slack.url, 'send', {
      user: 'U0ALICE',
      channel: 'C0INCIDENTS',
      text: '/runbook health',
    });
    expect(sent).toEqual({ ok: true });
    // The first worker has the job and is waiting on the silent target: kill it there.
    await eventually(async () => ((await runStatus())?.status === 'running' ? true : undefined), 30_000);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect(await reports()).toEqual([]);
    expect((await runStatus())?.status).toBe('running');

    startWorker();
    const [report] = await eventually(async () => {
      const posted = await reports();
      return posted.length > 0 ? posted : undefined;
    }, 45_000);
    expect(report!.text).toMatch(/^Health of default/);
    expect(await runStatus()).toEqual({ status: 'done', report_status: 'unreachable' });
    // Once: nothing else arrives after the lock interval has passed again.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await reports()).toHaveLength(1);
  }, 90_000);

  it('finishes the job it holds on SIGTERM before exiting, and the next worker posts its report', async () => {
    // Only this test's worker runs: the others are stopped first.
    await killRunningWorkers();
    const before = (await reports()).length;
    const worker = startWorker();
    await consolePost(slack.url, 'send', { user: 'U0BOB', channel: 'C0INCIDENTS', text: '/runbook health' });
    await eventually(async () => ((await runStatus())?.status === 'running' ? true : undefined), 30_000);
    worker.kill('SIGTERM');
    const code = await new Promise((resolve) => worker.once('exit', resolve));
    expect(code).toBe(0);
    // Finished and recorded, not abandoned half-way for another worker to redo.
    expect(await runStatus()).toEqual({ status: 'done', report_status: 'unreachable' });

    startWorker();
    await eventually(async () => ((await reports()).length > before ? true : undefined), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await reports()).toHaveLength(before + 1);
  }, 90_000);

  it('starts while Redis is down and still stops on SIGTERM', async () => {
    await redis.stop();
    try {
      const worker = startWorker();
      const exited = ending(worker);
      // Started, with Redis unreachable: the workers wait for it.
      await withTimeout(worker.started, 30_000);
      worker.kill('SIGTERM');
      // A hang here (BullMQ waiting for Redis) would time out; an orchestrator would kill it.
      expect(await withTimeout(exited, 30_000)).toBe(0);
    } finally {
      await restartRedis();
    }
  }, 60_000);

  it('exits on SIGTERM while Redis is down, after finishing the job it holds', async () => {
    await killRunningWorkers();
    const worker = startWorker();
    await consolePost(slack.url, 'send', { user: 'U0BOB', channel: 'C0INCIDENTS', text: '/runbook health' });
    await eventually(async () => ((await runStatus())?.status === 'running' ? true : undefined), 30_000);
    await redis.stop();
    try {
      const exited = ending(worker);
      worker.kill('SIGTERM');
      // BullMQ's own close waits for Redis to record the job's completion, forever if
      // Redis does not come back; an orchestrator would have to kill the process.
      expect(await withTimeout(exited, 30_000)).toBe(0);
      expect((await runStatus())?.status).toBe('done');
    } finally {
      await restartRedis();
    }
  }, 90_000);
});
