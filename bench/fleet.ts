/**
 * `npm run bench:fleet`: a fleet of 50 targets (50 databases the bench makes, kept on a server
 * of your own) checked and summarised three ways, each beside its anchors from the same run:
 *
 * - Slack: a signed `/runbook health all` to a `bot` process, a `worker` process checking the
 *   targets (built code, Redis queue, separate processes as in production) and the Web API
 *   stand-in (bench/fakeSlack.ts): from sending the command until the one summary is posted.
 * - CLI: `runbook-bot health --all` (dist/cli.js, a fresh process each time) until it exits.
 * - Anchors: the same targets checked by the engine in this process one after another, the
 *   engine's statements replayed on bare `pg` connections (one per target, as many at once as
 *   the fleet runs), and — once per bench — 50 single-target CLI processes one after another,
 *   which is what a fleet cost before `--all`.
 *
 * The targets are empty databases checked as a pg_monitor role, so all are OK and the summary
 * is the only message. BENCH_TARGETS (50), BENCH_RUNS (5), BENCH_DATABASE_URL (a server to
 * make the databases on instead of an embedded one; they are kept for the next run),
 * FLEET_CONCURRENCY (passed on, default the bot's), BENCH_SEQUENTIAL_CLI=0 skips the
 * slowest anchor, BENCH_WORKER_PROF / BENCH_CLI_PROF write CPU profiles to that folder.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { runHealthCheck } from '../src/health/engine.js';
import { runFleet } from '../src/health/fleet.js';
import { signedHeaders } from '../src/slack/signature.js';
import { TargetPools } from '../src/targets/pools.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from '../src/targets/target.js';
import {
  benchRedis,
  benchServer,
  cpuBusy,
  cpuSeconds,
  ensureDatabases,
  ensureMonitorRole,
  freePort,
  freshDatabase,
  machineLoad,
  slackStandIn,
  startService,
  stats,
  stopProcess,
  waitForReady,
  withRole,
} from './lab.js';

const TARGETS = Number(process.env.BENCH_TARGETS ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIGNING_SECRET = 'bench-signing-secret';
const ROLE = 'runbook_bench_monitor';
const ROLE_PASSWORD = 'bench-monitor';
/** A fleet summary that has not come after this long is a failed run, not a slow one. */
const SUMMARY_TIMEOUT_MS = 120_000;
const run = promisify(execFile);

const names = Array.from({ length: TARGETS }, (_, i) => `fleet_bench_${String(i + 1).padStart(2, '0')}`);
const targetName = (db: string) => db.replaceAll('_', '-');
const envName = (db: string) => `${db.toUpperCase()}_URL`;

/** The targets file every process reads, and the variables holding the URLs it names. */
function targetsEnv(urls: readonly string[]): NodeJS.ProcessEnv {
  const path = join(tmpdir(), `bench-fleet-targets-${process.pid}.yml`);
  const lines = ['targets:'];
  names.forEach((db) => {
    lines.push(`  ${targetName(db)}:`, `    url_env: ${envName(db)}`);
  });
  writeFileSync(path, `${lines.join('\n')}\n`);
  return { TARGETS_FILE: path, ...Object.fromEntries(names.map((db, i) => [envName(db), urls[i]])) };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const line = (label: string, samples: readonly number[]) => {
  const { p50, min, max } = stats(samples);
  return `${label.padEnd(52)} p50 ${seconds(p50)}  (${seconds(min)} – ${seconds(max)}, ${samples.length} runs)`;
};

async function main() {
  console.log(`machine at start: ${machineLoad()} (other sessions may share it)`);
  const busy = cpuBusy();
  const server = await benchServer();
  const redis = await benchRedis();
  const slack = await slackStandIn();
  try {
    const made = await ensureDatabases(server.adminUrl, names);
    await ensureMonitorRole(server.adminUrl, ROLE, ROLE_PASSWORD);
    const urls = names.map((db) => withRole(server.urlOf(db), ROLE, ROLE_PASSWORD));
    console.log(
      `${TARGETS} target databases on ${server.description} (${made} made now, ${TARGETS - made} reused); queue: ${redis.url ? 'Redis' : 'PostgreSQL'}`,
    );
    const env = {
      ...process.env,
      ...targetsEnv(urls),
      LOG_LEVEL: 'warn',
      ...(redis.url ? { REDIS_URL: redis.url } : {}),
    };
    const anchors = await measureAnchors(urls, Number(process.env.FLEET_CONCURRENCY ?? 8));
    const cli = await measureCli(env);
    const slackFleet = await measureSlack(server, slack, env);
    const sequentialCli =
      process.env.BENCH_SEQUENTIAL_CLI === '0' ? undefined : await measureSequentialCli(env);

    console.log('');
    console.log(line('Slack: /runbook health all -> summary posted', slackFleet.summary));
    console.log(
      `${'  of which'.padEnd(52)} ack p50 ${seconds(stats(slackFleet.ack).p50)}; command -> runs recorded ${seconds(stats(slackFleet.recorded).p50)}; -> first target started ${seconds(stats(slackFleet.firstStarted).p50)}; -> last target done ${seconds(stats(slackFleet.lastDone).p50)}`,
    );
    console.log(line('CLI: runbook-bot health --all (fresh process) -> exit', cli));
    console.log(line('anchor: engine in-process, one target after another', anchors.sequential));
    console.log(line(`anchor: engine in-process, ${anchors.concurrency} at a time`, anchors.concurrent));
    console.log(line(`anchor: bare pg, same statements, ${anchors.concurrency} at a time`, anchors.bare));
    if (sequentialCli)
      console.log(
        `${'anchor: 50 single-target CLI processes in a row'.padEnd(52)} ${seconds(sequentialCli)} (1 run)`,
      );
    const ratio = (a: readonly number[], b: readonly number[]) => (stats(a).p50 / stats(b).p50).toFixed(2);
    console.log(
      `ratios (p50): Slack / bare ${ratio(slackFleet.summary, anchors.bare)}, CLI / bare ${ratio(cli, anchors.bare)}, Slack / engine one by one ${ratio(slackFleet.summary, anchors.sequential)}, CLI / engine one by one ${ratio(cli, anchors.sequential)}${sequentialCli ? `; 50 CLI processes / CLI --all ${(sequentialCli / stats(cli).p50).toFixed(1)}×` : ''}`,
    );
    console.log(`goals: Slack p50 <= 5 s, CLI p50 <= 8 s`);
    console.log(
      `CPU during the Slack runs: bot ${slackFleet.cpu.bot.toFixed(2)} s, worker ${slackFleet.cpu.worker.toFixed(2)} s`,
    );
    console.log(
      `machine at end: ${machineLoad()}; all cores ${(busy() * 100).toFixed(0)} % busy during the bench (everything on the machine)`,
    );
  } finally {
    await slack.close();
    redis.stop();
    await server.stop();
  }
}

/** Reads the checks' statements once per target, then times the in-process anchors. */
async function measureAnchors(urls: readonly string[], concurrency: number) {
  const targets: Target[] = names.map((db, i) => ({
    name: targetName(db),
    url: urls[i]!,
    tags: [],
    settings: { ...DEFAULT_TARGET_SETTINGS },
    thresholdOverrides: {},
    source: 'bench',
  }));
  const statements = new Map<string, Array<[string, unknown[]]>>();
  // On pools of its own, closed after each target: what the fleet job and the CLI do.
  const check = async (target: Target, record?: Array<[string, unknown[]]>) => {
    const pools = new TargetPools();
    try {
      return await runHealthCheck(target, pools.readOnly(target), {
        ...(record ? { onStatement: (sql, params) => record.push([sql, params]) } : {}),
      });
    } finally {
      await pools.closeAll();
    }
  };
  const statuses = new Map<string, number>();
  for (const target of targets) {
    const record: Array<[string, unknown[]]> = [];
    const report = await check(target, record);
    statements.set(target.name, record);
    statuses.set(report.status, (statuses.get(report.status) ?? 0) + 1);
  }
  console.log(
    `targets as the engine finds them: ${[...statuses].map(([status, n]) => `${n} ${status}`).join(', ')}; ${statements.get(targets[0]!.name)?.length} statements each`,
  );
  const bareTarget = async (target: Target) => {
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      for (const [sql, params] of statements.get(target.name)!) await client.query(sql, params);
    } finally {
      await client.end();
    }
  };
  const sequential: number[] = [];
  const concurrent: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let started = performance.now();
    for (const target of targets) await check(target);
    sequential.push(performance.now() - started);
    started = performance.now();
    await runFleet(targets, concurrency, (target) => check(target));
    concurrent.push(performance.now() - started);
    started = performance.now();
    await runFleet(targets, concurrency, bareTarget);
    bare.push(performance.now() - started);
  }
  return { sequential, concurrent, bare, concurrency };
}

function cliArgs(args: string[]): string[] {
  const prof = process.env.BENCH_CLI_PROF;
  return [...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), 'dist/cli.js', ...args];
}

/**
 * Runs the built CLI and answers its output. Exit codes 1 and 2 are the checks' verdict (warn,
 * critical), still a finished run; 3 means it could not run, which fails the bench.
 */
async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await run(process.execPath, cliArgs(args), { env, maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (caught) {
    const err = caught as { code?: number; stdout?: string; stderr?: string };
    if (err.code === 1 || err.code === 2) return err.stdout ?? '';
    throw new Error(`runbook-bot ${args.join(' ')} exited ${err.code}: ${err.stderr || err.stdout}`);
  }
}

/** `runbook-bot health --all` in a fresh process each run; exit code 0 (all OK) is expected. */
async function measureCli(env: NodeJS.ProcessEnv): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const stdout = await cli(['health', '--all'], env);
    samples.push(performance.now() - started);
    if (i === 0) console.log(`CLI --all says: ${stdout.split('\n')[0]}`);
  }
  return samples;
}

/** What a fleet cost before --all: each target a CLI process of its own, one after another. */
async function measureSequentialCli(env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  for (const db of names) await cli(['health', '--target', targetName(db)], env);
  return performance.now() - started;
}

/** A signed `/runbook health all` per run, each from a channel of its own; timed to the summary. */
async function measureSlack(
  server: Awaited<ReturnType<typeof benchServer>>,
  slack: Awaited<ReturnType<typeof slackStandIn>>,
  env: NodeJS.ProcessEnv,
) {
  const stateDb = 'fleet_bench_state';
  await freshDatabase(server.adminUrl, stateDb);
  const stateUrl = server.urlOf(stateDb);
  const serviceEnv = {
    ...env,
    DATABASE_URL: stateUrl,
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.url,
  };
  const botPort = await freePort();
  const workerPort = await freePort();
  const bot = startService('bot', serviceEnv, botPort);
  const prof = process.env.BENCH_WORKER_PROF;
  const worker = startService(
    'worker',
    serviceEnv,
    workerPort,
    prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [],
  );
  const state = new pg.Client({ connectionString: stateUrl });
  try {
    await waitForReady(botPort, bot, 'bot');
    await waitForReady(workerPort, worker, 'worker');
    await state.connect();
    const cpuBefore = { bot: cpuSeconds(bot.pid!), worker: cpuSeconds(worker.pid!) };
    const result = {
      summary: [] as number[],
      ack: [] as number[],
      recorded: [] as number[],
      firstStarted: [] as number[],
      lastDone: [] as number[],
      cpu: { bot: 0, worker: 0 },
    };
    // One warm-up run: the first command after start also loads code the others find loaded.
    for (let i = -1; i < RUNS; i++) {
      const channel = `CFLEET${i + 1}`;
      const user = `UFLEET${i + 1}`;
      const body = new URLSearchParams({
        command: '/runbook',
        text: 'health all',
        user_id: user,
        channel_id: channel,
        trigger_id: `bench-fleet-${process.pid}-${i + 1}`,
        response_url: 'https://hooks.slack.com/commands/1',
        team_id: 'T1',
      }).toString();
      const sentAt = Date.now();
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${botPort}/slack/events`, {
        method: 'POST',
        headers: signedHeaders(SIGNING_SECRET, body),
        body,
      });
      const ackMs = performance.now() - started;
      const answer = await response.text();
      if (response.status !== 200) throw new Error(`the command got HTTP ${response.status}: ${answer}`);
      let summaryAt: number | undefined;
      const deadline = Date.now() + SUMMARY_TIMEOUT_MS;
      while (summaryAt === undefined && Date.now() < deadline) {
        summaryAt = (await slack.posts()).get(channel)?.[0];
        if (summaryAt === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (summaryAt === undefined) throw new Error(`no summary in ${channel} after ${SUMMARY_TIMEOUT_MS} ms`);
      const { rows } = await state.query<{
        runs: number;
        ok: number;
        created: number;
        started: number;
        finished: number;
      }>(
        `SELECT count(*)::int AS runs, count(*) FILTER (WHERE report_status = 'ok')::int AS ok,
                extract(epoch FROM min(created_at)) * 1000 AS created,
                extract(epoch FROM min(started_at)) * 1000 AS started,
                extract(epoch FROM max(finished_at)) * 1000 AS finished
           FROM runs WHERE requested_by = $1`,
        [user],
      );
      const runs = rows[0]!;
      if (runs.runs !== TARGETS) throw new Error(`${runs.runs} runs recorded for ${TARGETS} targets`);
      if (i < 0) {
        console.log(
          `Slack warm-up run: summary after ${seconds(summaryAt - sentAt)} (${runs.ok}/${runs.runs} targets OK); not counted`,
        );
        continue;
      }
      result.summary.push(summaryAt - sentAt);
      result.ack.push(ackMs);
      result.recorded.push(Number(runs.created) - sentAt);
      result.firstStarted.push(Number(runs.started) - sentAt);
      result.lastDone.push(Number(runs.finished) - sentAt);
    }
    const posts = await slack.posts();
    const extra = [...posts].filter(([channel, times]) => channel.startsWith('CFLEET') && times.length > 1);
    if (extra.length > 0)
      console.log(
        `note: ${extra.length} fleet channels got more than the summary (problem targets' reports in its thread)`,
      );
    result.cpu = {
      bot: cpuSeconds(bot.pid!) - cpuBefore.bot,
      worker: cpuSeconds(worker.pid!) - cpuBefore.worker,
    };
    return result;
  } finally {
    await state.end().catch(() => undefined);
    await Promise.all([stopProcess(bot), stopProcess(worker)]);
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
