/**
 * `npm run bench:ack`: 1000 signed `/runbook health` requests at concurrency 50 against the
 * bot's HTTP receiver (a `bot` process, with a `worker` process running), with a local stand-in
 * for Slack's Web API (bench/fakeSlack.ts, a process of its own) that records every
 * chat.postMessage. First the anchor: the same commands against a bare Bolt app
 * (bench/bareBolt.ts) while the worker does the same work (bench/ackFeeder.ts). Prints ack
 * latency of both and their ratio (all, and the first 50 after start apart), command → report
 * latency, lost and duplicated runs, CPU per process, state-database commits per command, and
 * bot and worker memory (process.memoryUsage) every 1000 commands. Figures only.
 * Commands are signed and the load generator's connections opened before the clock starts.
 *
 * BENCH_COMMANDS (1000), BENCH_CONCURRENCY (50); Redis: REDIS_URL, else a redis-server of
 * its own when installed, else BullMQ's PostgreSQL backend. BENCH_WORKER_PAUSED=1 freezes
 * the worker while the commands are sent; BENCH_BOT_PROF / BENCH_WORKER_PROF write CPU
 * profiles; BENCH_BOT_NODE_OPTIONS / BENCH_WORKER_NODE_OPTIONS: Node or V8 flags for the bot /
 * worker process (on its command line); BENCH_ANCHOR=0 leaves out the bare-Bolt anchor (for long memory runs);
 * BENCH_HOLD_S keeps the processes up that long after the figures (to inspect them).
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { settlesWithin } from '../src/concurrency/withTimeout.js';
import { createDatabase } from '../src/demo/demoDatabase.js';
import { signedHeaders } from '../src/slack/signature.js';
import { startEmbeddedPostgres } from '../src/store/embeddedPostgres.js';
import { cpuSeconds, freePort, type SlackStandIn, slackStandIn, waitForReady } from './lab.js';
import { percentile } from './stats.js';

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
/** How long to wait for every report after the last command, and for a process to stop. */
const DRAIN_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 15_000;
const SECRET = 'bench-signing-secret';

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

/** Command i, form-encoded and signed as Slack sends it (signatures stay valid for five minutes). */
function signedCommand(i: number): { body: string; headers: Record<string, string | number> } {
  const body = new URLSearchParams({
    command: '/runbook',
    text: 'health',
    user_id: `U${i}`,
    channel_id: `C${i}`,
    trigger_id: `bench-${i}`,
    response_url: 'https://hooks.slack.com/commands/1',
    team_id: 'T1',
  }).toString();
  return { body, headers: { ...signedHeaders(SECRET, body), 'content-length': Buffer.byteLength(body) } };
}

async function sendCommand(
  port: number,
  i: number,
  command: ReturnType<typeof signedCommand>,
): Promise<number> {
  const started = performance.now();
  const status = await send(port, 'POST', '/slack/events', command);
  if (status !== 200) throw new Error(`command ${i}: HTTP ${status}`);
  return performance.now() - started;
}

/**
 * The load generator shares the cores with what it measures, so it should cost little:
 * node:http with kept-alive connections costs a fraction of fetch (undici) per request.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function send(
  port: number,
  method: string,
  path: string,
  { body, headers }: { body?: string; headers?: Record<string, string | number> } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, path, method, agent, timeout: 10_000, headers },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * Opens the load generator's connections before the clock starts, as wrk does: the figures
 * are then the latency of commands, not of 50 TCP connections set up at once by a cold client.
 */
async function connect(port: number): Promise<void> {
  await Promise.all(Array.from({ length: CONCURRENCY }, () => send(port, 'GET', '/healthz')));
}

/** The postmaster's pid, for the CPU of all its backends: the parent of one of them. */
async function postmasterPid(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Read while the backend is still there: it exits with the connection.
    return Number(readFileSync(`/proc/${rows[0]!.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  } finally {
    await client.end();
  }
}

/** Live backends' CPU too: cutime only counts backends that have exited. */
function postgresCpuSeconds(postmaster: number): number {
  let total = cpuSeconds(postmaster, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(fields[1]) === postmaster) total += cpuSeconds(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

/**
 * Transactions committed in the database so far (every statement outside a transaction is
 * one). Read after a pause: backends report their counts to the statistics within a second.
 */
async function commits(url: string): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      'SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()',
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function main() {
  const postgres = await startEmbeddedPostgres();
  let slack: SlackStandIn | undefined;
  let redis: Awaited<ReturnType<typeof redisUrl>> = {};
  try {
    slack = await slackStandIn();
    redis = await redisUrl();
    await measure(postgres, slack, redis);
  } finally {
    redis.child?.kill();
    await slack?.close();
    await postgres.stop();
  }
}

/** Node and V8 flags given on the command line (NODE_OPTIONS refuses some V8 flags). */
const nodeFlags = (flags: string | undefined) => flags?.split(/\s+/).filter(Boolean) ?? [];

/** A child process stopped: SIGTERM, then SIGKILL when it does not stop, so a failed run leaves nothing behind. */
async function stop(child: ChildProcess, name: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    console.error(`the ${name} process had exited (${child.exitCode ?? child.signalCode})`);
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  if (!(await settlesWithin(exited, STOP_TIMEOUT_MS))) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** A bench child in TypeScript (tsx), with IPC; resolves once it says 'ready'. */
async function forkReady(file: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], { env, stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`${file} exited during start-up (${code})`)));
  });
  return child;
}

/** process.memoryUsage() of a bot or worker, from its /metrics (runbook_bot_process_memory_bytes), in MB. */
async function memoryOf(port: number): Promise<Record<string, number>> {
  const text = await (
    await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })
  ).text();
  const memory: Record<string, number> = {};
  for (const [, kind, bytes] of text.matchAll(/runbook_bot_process_memory_bytes\{kind="(\w+)"\} (\d+)/g))
    memory[kind!] = Number(bytes) / 2 ** 20;
  return memory;
}

const memoryLine = (memory: Record<string, number>) =>
  `RSS ${memory.rss?.toFixed(0)} (heap ${memory.heapUsed?.toFixed(0)}/${memory.heapTotal?.toFixed(0)}, external ${memory.external?.toFixed(0)}, arrayBuffers ${memory.arrayBuffers?.toFixed(0)})`;

/**
 * Sends the commands at CONCURRENCY over the load generator's kept-alive connections,
 * calling `acked(i)` as each is acknowledged; answers each command's ack latency and when it
 * was sent (wall clock, comparable with the Slack stand-in's).
 */
async function burst(
  port: number,
  commands: ReturnType<typeof signedCommand>[],
  acked: (i: number) => void,
): Promise<{ ackOf: number[]; sentAt: number[]; seconds: number }> {
  const sentAt: number[] = [];
  const ackOf: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < commands.length) {
        const i = next++;
        sentAt[i] = performance.timeOrigin + performance.now();
        ackOf[i] = await sendCommand(port, i, commands[i]!);
        acked(i);
      }
    }),
  );
  return { ackOf, sentAt, seconds: (performance.now() - started) / 1000 };
}

async function measure(
  postgres: Awaited<ReturnType<typeof startEmbeddedPostgres>>,
  slack: SlackStandIn,
  redis: Awaited<ReturnType<typeof redisUrl>>,
) {
  const stateUrl = await createDatabase(postgres, 'state', { demoSchema: false });
  const shopUrl = await createDatabase(postgres, 'shop', { demoSchema: true });
  const port = await freePort();
  // The built code (dist/, built by `npm run bench:ack`), as production runs it: tsx's
  // transpiler would add its own memory to the figures.
  const env = {
    ...process.env,
    DATABASE_URL: stateUrl,
    TARGET_DATABASE_URL: shopUrl,
    TARGET_NAME: process.env.TARGET_NAME ?? 'default',
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
      ...nodeFlags(process.env.BENCH_BOT_NODE_OPTIONS),
      'dist/main.js',
      'bot',
    ],
    {
      env: { ...env, PORT: String(port) },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const workerPort = await freePort();
  const worker = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_WORKER_PROF
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_WORKER_PROF]
        : []),
      ...nodeFlags(process.env.BENCH_WORKER_NODE_OPTIONS),
      'dist/main.js',
      'worker',
    ],
    {
      env: { ...env, PORT: String(workerPort) },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const anchorPort = await freePort();
  const withAnchor = process.env.BENCH_ANCHOR !== '0';
  const children: Array<[ChildProcess, string]> = [
    [bot, 'bot'],
    [worker, 'worker'],
  ];
  try {
    await waitForReady(port, bot, 'bot');
    await waitForReady(workerPort, worker, 'worker');
    const bare = withAnchor
      ? await forkReady('./bareBolt.ts', { ...env, PORT: String(anchorPort) })
      : undefined;
    if (bare) children.push([bare, 'bare Bolt']);
    const feeder = withAnchor ? await forkReady('./ackFeeder.ts', env) : undefined;
    if (feeder) children.push([feeder, 'feeder']);
    const idleRss = rssMb(bot.pid!);
    // Built and signed before the clock starts: the load generator shares the cores it measures.
    const commands = Array.from({ length: COMMANDS }, (_, i) => signedCommand(i));
    const postmaster = await postmasterPid(stateUrl);
    const cpu = () => ({
      bot: cpuSeconds(bot.pid!),
      worker: cpuSeconds(worker.pid!),
      postgres: postgresCpuSeconds(postmaster),
      redis: redis.child?.pid ? cpuSeconds(redis.child.pid) : 0,
      'Slack stand-in': cpuSeconds(slack.pid),
      'load generator': cpuSeconds(process.pid),
      ...(bare && feeder ? { 'bare Bolt': cpuSeconds(bare.pid!), feeder: cpuSeconds(feeder.pid!) } : {}),
    });
    const cpuUsed = (before: ReturnType<typeof cpu>, after: ReturnType<typeof cpu>) =>
      Object.entries(after)
        .map(([name, value]) => `${name} ${(value - before[name as keyof typeof before]!).toFixed(2)} s`)
        .join(', ');
    const cores = availableParallelism();
    const ms = (value: number) => `${value.toFixed(1)} ms`;
    const drain = async (expected: number) => {
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      while ((await slack.count()) < expected && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      return (await slack.count()) >= expected;
    };
    /** Command → report latencies of the channels `prefix` + i, and how many had more than one post. */
    const reportLatencies = async (prefix: string, sentAt: number[]) => {
      const posts = await slack.posts();
      const latencies: number[] = [];
      let duplicated = 0;
      sentAt.forEach((sent, i) => {
        const arrivals = posts.get(`${prefix}${i}`) ?? [];
        if (arrivals.length > 1) duplicated += 1;
        if (arrivals[0] !== undefined) latencies.push(arrivals[0] - sent);
      });
      return { latencies, duplicated, lost: sentAt.length - latencies.length };
    };
    console.log(
      `${COMMANDS} signed /runbook health commands at concurrency ${CONCURRENCY} (queue: ${redis.url ? 'Redis' : 'PostgreSQL'}); load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')} on ${cores} cores`,
    );

    // The anchor first: the same commands, load generator and concurrency against a bare Bolt
    // app that only acknowledges, while the worker checks and posts the same reports (fed by
    // ackFeeder.ts), so the machine carries the same load as during the bot's run.
    let anchorP99: number | undefined;
    if (bare && feeder) {
      await connect(anchorPort);
      const before = cpu();
      const pending: number[] = [];
      const anchor = await burst(anchorPort, commands, (i) => {
        // The acks of one turn of the event loop go to the feeder together (one message).
        if (pending.length === 0) setImmediate(() => feeder.send(pending.splice(0)));
        pending.push(i);
      });
      const drained = await drain(COMMANDS);
      const reports = await reportLatencies('A', anchor.sentAt);
      anchorP99 = percentile(anchor.ackOf, 99);
      console.log(
        `bare Bolt (ack-only /runbook handler; the worker fed the same runs): ack p50 ${ms(percentile(anchor.ackOf, 50))}  p99 ${ms(anchorP99)}  max ${ms(Math.max(...anchor.ackOf))}; sent in ${anchor.seconds.toFixed(1)} s; command -> report p50 ${ms(percentile(reports.latencies, 50))}${drained ? '' : ' (gave up waiting for the reports)'}`,
      );
      console.log(`  CPU: ${cpuUsed(before, cpu())}`);
    }

    await connect(port);
    const commitsBefore = await commits(stateUrl);
    const cpuBefore = cpu();
    // BENCH_WORKER_PAUSED=1: the worker is frozen (SIGSTOP) while the commands are sent and
    // thawed after, to see the bot's ack path without the worker competing for the CPU.
    const paused = process.env.BENCH_WORKER_PAUSED === '1';
    if (paused) worker.kill('SIGSTOP');
    let peakRss = idleRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssMb(bot.pid!));
    }, 100);
    // Memory every 1000 commands acknowledged, from each process's own process.memoryUsage().
    const memory: Array<Promise<string>> = [];
    const sampleMemory = (label: string) =>
      memory.push(
        Promise.all([memoryOf(port), paused ? Promise.resolve(undefined) : memoryOf(workerPort)]).then(
          ([botMemory, workerMemory]) =>
            `  ${label.padStart(6)}  bot ${memoryLine(botMemory)}${workerMemory ? `  worker ${memoryLine(workerMemory)}` : ''}`,
          // A sample that gets no answer (a process busy writing a heap snapshot) is a line, not a failed run.
          (err: unknown) => `  ${label.padStart(6)}  no answer: ${(err as Error).message}`,
        ),
      );
    sampleMemory('0');
    let acks = 0;
    const started = performance.now();
    let sent: Awaited<ReturnType<typeof burst>>;
    try {
      sent = await burst(port, commands, () => {
        acks += 1;
        if (acks % 1000 === 0) sampleMemory(String(acks));
      });
    } finally {
      // Thawed whatever happened: a frozen worker would not act on the SIGTERM that stops it.
      if (paused) worker.kill('SIGCONT');
    }
    const drained = await drain(withAnchor ? 2 * COMMANDS : COMMANDS);
    const drainSeconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const cpuAfter = cpu();
    sampleMemory('posted');

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
    const commitsDuring = (await commits(stateUrl)) - commitsBefore;
    const state = new pg.Client({ connectionString: stateUrl });
    await state.connect();
    const { rows: engine } = await state.query<{ runs: number; mean_ms: number }>(
      `SELECT count(*)::int AS runs, avg((report->>'durationMs')::int)::float8 AS mean_ms FROM health_reports`,
    );
    await state.end();
    const { latencies, duplicated, lost } = await reportLatencies('C', sent.sentAt);
    const { ackOf } = sent;
    const p99 = percentile(ackOf, 99);
    console.log(
      `bot${paused ? ' (worker paused while sending)' : ''}: sent in ${sent.seconds.toFixed(1)} s; ${drained ? 'all reports posted after' : 'gave up waiting for the reports after'} ${drainSeconds.toFixed(1)} s`,
    );
    console.log(
      `ack latency: p50 ${ms(percentile(ackOf, 50))}  p99 ${ms(p99)}  max ${ms(Math.max(...ackOf))}  (goal p99 <= 100 ms${anchorP99 ? ` and <= 1.3x bare Bolt: ${(p99 / anchorP99).toFixed(2)}x` : ''})`,
    );
    const firstAcks = ackOf.slice(0, CONCURRENCY);
    console.log(
      `  the first ${CONCURRENCY} after start (cold code, all sent at once): p50 ${ms(percentile(firstAcks, 50))}  max ${ms(Math.max(...firstAcks))}; the rest: p99 ${ms(percentile(ackOf.slice(CONCURRENCY), 99))}`,
    );
    console.log(
      `command -> report: p50 ${ms(percentile(latencies, 50))}  p99 ${ms(percentile(latencies, 99))}  ${paused ? '(includes the time the worker was frozen; not comparable with the goal)' : '(goal p50 <= 1 s)'}`,
    );
    console.log(`lost runs: ${lost}  duplicated reports: ${duplicated}  (goal 0 / 0)`);
    console.log(
      `health checks actually run: ${engine[0]?.runs} (mean ${engine[0]?.mean_ms?.toFixed(0)} ms each), shared by ${withAnchor ? 2 * COMMANDS : COMMANDS} commands${withAnchor ? " (the anchor's too)" : ''}`,
    );
    console.log(
      `state database: ${commitsDuring} transactions committed from the first command to the last report (${(commitsDuring / COMMANDS).toFixed(2)} per command)`,
    );
    console.log(`job time: diagnostics ${jobMs('diagnostics')}; notifications ${jobMs('notifications')}`);
    console.log(
      `CPU during the burst (${cores} cores = ${(cores * drainSeconds).toFixed(1)} s available): ${cpuUsed(cpuBefore, cpuAfter)}`,
    );
    console.log(
      `bot RSS: idle ${idleRss.toFixed(0)} MB, peak ${peakRss.toFixed(0)} MB  (goal <= 150 MB); worker RSS at the end ${workerRss.toFixed(0)} MB`,
    );
    console.log(`memory (MB) by commands acknowledged:\n${(await Promise.all(memory)).join('\n')}`);
    const holdSeconds = Number(process.env.BENCH_HOLD_S ?? 0);
    if (holdSeconds > 0) {
      console.log(`holding the processes for ${holdSeconds} s: bot ${bot.pid}, worker ${worker.pid}`);
      await new Promise((resolve) => setTimeout(resolve, holdSeconds * 1000));
    }
  } finally {
    for (const [child, name] of children.reverse()) await stop(child, name);
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
