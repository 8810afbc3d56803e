import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { JOBS, QUEUES } from '../../src/jobs/catalog.js';
import { DEFAULT_SHUTDOWN_WATCHDOG_MS } from '../../src/service/shutdownWatchdog.js';
import { eventually } from '../support/botHarness.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { type FreezableProxy, startFreezableProxy } from '../support/freezableProxy.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import { BOT_TOKEN, SIGNING_SECRET, sendSlashCommand } from '../support/slack.js';

const [server] = inject('postgresServers');

/** Short, so the test is quick; the default is checked below to stay within 30 s. */
const WATCHDOG_MS = 2000;

interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** Every log line so far, parsed. */
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | string>;
}

/**
 * SIGTERM ends every mode whatever is in flight: real `runbook-bot-server` processes whose
 * state database goes silent (a frozen proxy: queries sent, never answered, connections
 * open), with a job or a Slack request waiting on it, so the graceful stop cannot finish.
 */
describe.skipIf(!redisAvailable())('SIGTERM with a stop that cannot finish', () => {
  let redis: TestRedis;
  let state: TestDatabase;
  let target: TestDatabase;
  let proxy: FreezableProxy;
  let queue: Queue;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    [redis, state, target] = await Promise.all([
      startTestRedis(),
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url, { demoSchema: false }),
    ]);
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    connection.on('error', () => undefined); // Redis is stopped before this connection at the end
    queue = new Queue(QUEUES.diagnostics, { connection, prefix: 'runbook-bot' });
  });
  afterEach(async () => {
    await proxy?.close();
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await queue?.close();
    await redis?.stop();
    await Promise.all([state?.drop(), target?.drop()]);
  });

  it('keeps the default watchdog within 30 s and refuses a longer one', () => {
    expect(DEFAULT_SHUTDOWN_WATCHDOG_MS).toBeLessThanOrEqual(30_000);
    const env = { DATABASE_URL: state.url, SLACK_BOT_TOKEN: BOT_TOKEN };
    expect(loadServiceConfig(env, { mode: 'worker' }).shutdownWatchdogMs).toBe(DEFAULT_SHUTDOWN_WATCHDOG_MS);
    expect(() => loadServiceConfig({ ...env, SHUTDOWN_WATCHDOG_MS: '60000' }, { mode: 'worker' })).toThrow(
      /SHUTDOWN_WATCHDOG_MS/,
    );
  });

  async function start(mode: 'bot' | 'worker' | 'all'): Promise<ServerProcess> {
    proxy = await startFreezableProxy(state.url);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', mode], {
      env: {
        ...process.env,
        DATABASE_URL: proxy.url,
        REDIS_URL: redis.url,
        TARGET_DATABASE_URL: target.url,
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: 'http://127.0.0.1:9/api/',
        PORT: '0',
        LOG_LEVEL: 'info',
        SHUTDOWN_WATCHDOG_MS: String(WATCHDOG_MS),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
    );
    const logs: Array<Record<string, unknown>> = [];
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          logs.push(JSON.parse(line));
        } catch {
          // not a log line
        }
      }
    });
    const started = await eventually(() => logs.find((line) => line.msg === 'runbook-bot started'), 60_000);
    return { child, port: started.port as number, logs, exited };
  }

  /** SIGTERM, then how the process ended and what its watchdog said it abandoned. */
  async function terminate(running: ServerProcess) {
    running.child.kill('SIGTERM');
    const code = await running.exited;
    const watchdog = running.logs.find((line) => String(line.msg).startsWith('graceful stop did not finish'));
    return { code, abandoned: watchdog?.abandoned as { jobsInHand?: unknown[]; openRequests?: unknown[] } };
  }

  /** A health job the worker takes and then waits on the silent state database for. */
  async function jobInHand(): Promise<void> {
    const before = proxy.heldBack();
    await queue.add(JOBS.health, { runIds: [randomUUID()] });
    await eventually(async () => ((await queue.getActiveCount()) > 0 ? true : undefined));
    await eventually(() => (proxy.heldBack() > before ? true : undefined));
  }

  /** A slash command the bot is handling, waiting on the silent state database. */
  async function requestInFlight(port: number): Promise<void> {
    const before = proxy.heldBack();
    void sendSlashCommand(port, { text: 'health', channel_id: 'CWEDGED' }).catch(() => undefined);
    await eventually(() => (proxy.heldBack() > before ? true : undefined));
  }

  it('a worker exits non-zero, naming the job it abandoned', async () => {
    const worker = await start('worker');
    proxy.freeze();
    await jobInHand();
    const { code, abandoned } = await terminate(worker);
    expect(code).toBe(1);
    expect(abandoned.jobsInHand).toEqual([
      expect.objectContaining({ queue: QUEUES.diagnostics, name: JOBS.health }),
    ]);
  }, 90_000);

  it('a bot exits non-zero with a Slack request in flight', async () => {
    const bot = await start('bot');
    proxy.freeze();
    await requestInFlight(bot.port);
    const { code, abandoned } = await terminate(bot);
    expect(code).toBe(1);
    expect(abandoned).toHaveProperty('openRequests');
  }, 90_000);

  it('`all` exits non-zero with a job and a request in flight', async () => {
    const all = await start('all');
    proxy.freeze();
    await jobInHand();
    await requestInFlight(all.port);
    const { code, abandoned } = await terminate(all);
    expect(code).toBe(1);
    expect(abandoned.jobsInHand).toEqual([expect.objectContaining({ name: JOBS.health })]);
  }, 90_000);
});
