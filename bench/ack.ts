/**
 * `npm run bench:ack`: 1000 signed `/runbook health` requests at concurrency 50 against the
 * bot's HTTP receiver (a `bot` process, with a `worker` process running), with a local stand-in
 * for Slack's Web API that records every chat.postMessage. Prints ack latency, command →
 * report latency, lost and duplicated runs, and the bot's RSS. Figures only.
 *
 * BENCH_COMMANDS (1000), BENCH_CONCURRENCY (50); Redis: REDIS_URL, else a redis-server of
 * its own when installed, else BullMQ's PostgreSQL backend.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import pg from 'pg';
import { createDatabase } from '../src/demo/demoDatabase.js';
import { signedHeaders } from '../src/slack/signature.js';
import { startEmbeddedPostgres } from '../src/store/embeddedPostgres.js';

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const SECRET = 'bench-signing-secret';

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

/** Stand-in for slack.com/api: records when each channel's report arrives. */
async function fakeSlack(posts: Map<string, number[]>) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const channel = new URLSearchParams(body).get('channel') ?? '?';
      if (req.url?.endsWith('/chat.postMessage'))
        posts.set(channel, [...(posts.get(channel) ?? []), performance.now()]);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, ts: `${Date.now() / 1000}` }));
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/api/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function redisUrl(): Promise<{ url?: string; child?: ChildProcess }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    return {};
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { url: `redis://127.0.0.1:${port}`, child };
}

async function signedCommand(port: number, i: number): Promise<number> {
  const body = new URLSearchParams({
    command: '/runbook',
    text: 'health',
    user_id: `U${i}`,
    channel_id: `C${i}`,
    trigger_id: `bench-${i}`,
    response_url: 'https://hooks.slack.com/commands/1',
    team_id: 'T1',
  }).toString();
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    signal: AbortSignal.timeout(10_000),
    method: 'POST',
    headers: signedHeaders(SECRET, body),
    body,
  });
  await response.text();
  if (response.status !== 200) throw new Error(`command ${i}: HTTP ${response.status}`);
  return performance.now() - started;
}

async function waitForReady(port: number, bot: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (bot.exitCode !== null) throw new Error('the bot exited during start-up');
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the bot did not become ready');
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function main() {
  const postgres = await startEmbeddedPostgres();
  const stateUrl = await createDatabase(postgres, 'state', { demoSchema: false });
  const shopUrl = await createDatabase(postgres, 'shop', { demoSchema: true });

  const posts = new Map<string, number[]>();
  const slack = await fakeSlack(posts);
  const redis = await redisUrl();
  const port = await freePort();
  // The built code (dist/, built by `npm run bench:ack`), as production runs it: tsx's
  // transpiler would add its own memory to the figures.
  const env = {
    ...process.env,
    DATABASE_URL: stateUrl,
    TARGET_DATABASE_URL: shopUrl,
    ...(redis.url ? { REDIS_URL: redis.url } : {}),
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.url,
    LOG_LEVEL: 'warn',
  };
  // As in production: a bot process (the receiver) and a worker process.
  const bot = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_BOT_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_BOT_PROF] : []),
      'dist/main.js',
      'bot',
    ],
    {
      env: { ...env, PORT: String(port) },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const workerPort = await freePort();
  const worker = spawn(process.execPath, ['dist/main.js', 'worker'], {
    env: { ...env, PORT: String(workerPort) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitForReady(port, bot);
    await waitForReady(workerPort, worker);
    const idleRss = rssMb(bot.pid!);
    const sentAt = new Map<string, number>();
    const acks: number[] = [];
    let next = 0;
    let peakRss = idleRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssMb(bot.pid!));
    }, 100);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < COMMANDS) {
          const i = next++;
          sentAt.set(`C${i}`, performance.now());
          acks.push(await signedCommand(port, i));
        }
      }),
    );
    const sendSeconds = (performance.now() - started) / 1000;
    const deadline = Date.now() + 180_000;
    while (posts.size < COMMANDS && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const drainSeconds = (performance.now() - started) / 1000;
    clearInterval(sampler);

    const metrics = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
    const workerRss = rssMb(worker.pid!);
    const jobMs = (queue: string) => {
      const sum = Number(
        new RegExp(`job_duration_seconds_sum\\{queue="${queue}"\\} ([\\d.e+-]+)`).exec(metrics)?.[1],
      );
      const count = Number(
        new RegExp(`job_duration_seconds_count\\{queue="${queue}"\\} (\\d+)`).exec(metrics)?.[1],
      );
      return count > 0 ? `${((1000 * sum) / count).toFixed(1)} ms mean over ${count}` : 'n/a';
    };
    const state = new pg.Client({ connectionString: stateUrl });
    await state.connect();
    const { rows: engine } = await state.query<{ runs: number; mean_ms: number }>(
      `SELECT count(DISTINCT report->>'startedAt')::int AS runs, avg((report->>'durationMs')::int)::float8 AS mean_ms FROM runs WHERE report IS NOT NULL`,
    );
    await state.end();
    const latencies: number[] = [];
    let duplicated = 0;
    for (const [channel, sent] of sentAt) {
      const arrivals = posts.get(channel) ?? [];
      if (arrivals.length > 1) duplicated += 1;
      if (arrivals[0] !== undefined) latencies.push(arrivals[0] - sent);
    }
    const lost = COMMANDS - latencies.length;
    const ms = (value: number) => `${value.toFixed(1)} ms`;
    console.log(
      `${COMMANDS} signed /runbook health commands at concurrency ${CONCURRENCY} (queue: ${redis.url ? 'Redis' : 'PostgreSQL'})`,
    );
    console.log(`sent in ${sendSeconds.toFixed(1)} s; all reports posted after ${drainSeconds.toFixed(1)} s`);
    console.log(
      `ack latency: p50 ${ms(percentile(acks, 50))}  p99 ${ms(percentile(acks, 99))}  max ${ms(Math.max(...acks))}  (goal p99 <= 100 ms)`,
    );
    console.log(
      `command -> report: p50 ${ms(percentile(latencies, 50))}  p99 ${ms(percentile(latencies, 99))}  (goal p50 <= 1 s)`,
    );
    console.log(`lost runs: ${lost}  duplicated reports: ${duplicated}  (goal 0 / 0)`);
    console.log(
      `health checks actually run: ${engine[0]?.runs} (mean ${engine[0]?.mean_ms?.toFixed(0)} ms each), shared by ${COMMANDS} commands`,
    );
    console.log(`job time: diagnostics ${jobMs('diagnostics')}; notifications ${jobMs('notifications')}`);
    console.log(
      `bot RSS: idle ${idleRss.toFixed(0)} MB, peak ${peakRss.toFixed(0)} MB  (goal <= 150 MB); worker RSS at the end ${workerRss.toFixed(0)} MB`,
    );
  } finally {
    for (const child of [bot, worker]) {
      if (child.exitCode !== null || child.signalCode !== null) {
        console.error(
          `a ${child === bot ? 'bot' : 'worker'} process had exited (${child.exitCode ?? child.signalCode})`,
        );
        continue;
      }
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    redis.child?.kill();
    await slack.close();
    await postgres.stop();
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
