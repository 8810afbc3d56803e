/**
 * `npm run bench:cli-start`: how long `runbook-bot health` (the built dist/cli.js, a fresh
 * process) takes to start on one tiny healthy target, beside two anchors run interleaved with
 * it: `node -e ''` (Node itself) and a script that only imports `pg` and runs `SELECT 1` (the
 * least any Node program pays to reach Postgres). "Start" is from spawning the process to its
 * first connection to the target, seen by a TCP relay in front of the server, so nothing in
 * the CLI is instrumented; the wall time to exit is printed too.
 *
 * BENCH_RUNS (20), BENCH_DATABASE_URL (a server of your own; the database is kept),
 * BENCH_COMPARE_DIST (another build's dist/ folder, e.g. of an earlier commit: its `health`
 * is run interleaved too and printed beside).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  benchServer,
  cpuBusy,
  ensureDatabases,
  ensureMonitorRole,
  freePort,
  machineLoad,
  stats,
  withRole,
} from './lab.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const COMPARE = process.env.BENCH_COMPARE_DIST;
const DB = 'cli_start_bench';
const ROLE = 'runbook_bench_monitor';
const ROLE_PASSWORD = 'bench-monitor';

const now = () => performance.timeOrigin + performance.now();

/** A TCP relay to the server that remembers when each connection arrived. */
async function relay(to: { host: string; port: number }) {
  const arrivals: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    arrivals.push(now());
    const upstream = createConnection(to);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    /** The first connection at or after `since`. */
    firstAfter: (since: number) => arrivals.find((at) => at >= since),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * GNU time, when installed, reports each process's CPU time (user + system): on a machine
 * other sessions share, CPU time moves far less with their load than wall time does.
 */
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const cpuFile = join(tmpdir(), `bench-cli-start-${process.pid}.txt`);

/**
 * Spawns node with the arguments; answers wall time to exit, time to the first relayed
 * connection, and the process's CPU time (ms) when GNU time is there to measure it.
 */
async function timed(
  args: string[],
  env: NodeJS.ProcessEnv,
  firstAfter?: (since: number) => number | undefined,
  okCodes: number[] = [0],
): Promise<{ wall: number; firstQuery?: number; cpu?: number }> {
  const command = GNU_TIME
    ? ([GNU_TIME, ['-f', '%U %S', '-o', cpuFile, process.execPath, ...args]] as const)
    : ([process.execPath, args] as const);
  const started = now();
  const child = spawn(command[0], command[1], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wall = now() - started;
  if (code === null || !okCodes.includes(code))
    throw new Error(`node ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  const first = firstAfter?.(started);
  const cpu = GNU_TIME
    ? readFileSync(cpuFile, 'utf8')
        .trim()
        .split(/\s+/)
        .reduce((sum, seconds) => sum + Number(seconds) * 1000, 0)
    : undefined;
  return {
    wall,
    ...(first === undefined ? {} : { firstQuery: first - started }),
    ...(cpu === undefined ? {} : { cpu }),
  };
}

async function main() {
  console.log(`machine at start: ${machineLoad()} (other sessions may share it)`);
  const busy = cpuBusy();
  const server = await benchServer();
  const proxy = await (async () => {
    const url = new URL(server.urlOf(DB));
    return relay({ host: url.hostname, port: Number(url.port || 5432) });
  })();
  try {
    await ensureDatabases(server.adminUrl, [DB]);
    await ensureMonitorRole(server.adminUrl, ROLE, ROLE_PASSWORD);
    const direct = new URL(withRole(server.urlOf(DB), ROLE, ROLE_PASSWORD));
    direct.hostname = '127.0.0.1';
    direct.port = String(proxy.port);
    const url = direct.toString();
    // TARGETS_FILE unset and nothing else configured: the one target of TARGET_DATABASE_URL.
    const { TARGETS_FILE: _file, DATABASE_URL: _state, ...rest } = process.env;
    const env = { ...rest, TARGET_DATABASE_URL: url, LOG_LEVEL: 'warn' };
    const bareScript = `import pg from 'pg'; const c = new pg.Client({ connectionString: process.env.TARGET_DATABASE_URL }); await c.connect(); await c.query('SELECT 1'); await c.end();`;
    const samples = { node: [] as number[], bare: [] as number[], bareFirst: [] as number[] };
    const health = { wall: [] as number[], first: [] as number[] };
    const checks = { wall: [] as number[] };
    const compared = { wall: [] as number[], first: [] as number[], cpu: [] as number[] };
    const cpu = {
      node: [] as number[],
      bare: [] as number[],
      health: [] as number[],
      checks: [] as number[],
    };
    // One of each first, not counted: the file cache warms up.
    for (let i = -1; i < RUNS; i++) {
      const nodeRun = await timed(['-e', ''], env);
      const bareRun = await timed(['--input-type=module', '-e', bareScript], env, proxy.firstAfter);
      const healthRun = await timed(['dist/cli.js', 'health'], env, proxy.firstAfter, [0, 1, 2]);
      const checksRun = await timed(['dist/cli.js', 'checks'], env);
      const comparedRun = COMPARE
        ? await timed([join(COMPARE, 'cli.js'), 'health'], env, proxy.firstAfter, [0, 1, 2])
        : undefined;
      if (i < 0) continue;
      samples.node.push(nodeRun.wall);
      samples.bare.push(bareRun.wall);
      samples.bareFirst.push(bareRun.firstQuery!);
      health.wall.push(healthRun.wall);
      health.first.push(healthRun.firstQuery!);
      checks.wall.push(checksRun.wall);
      if (comparedRun) {
        compared.wall.push(comparedRun.wall);
        compared.first.push(comparedRun.firstQuery!);
        if (comparedRun.cpu !== undefined) compared.cpu.push(comparedRun.cpu);
      }
      if (nodeRun.cpu !== undefined) {
        cpu.node.push(nodeRun.cpu);
        cpu.bare.push(bareRun.cpu!);
        cpu.health.push(healthRun.cpu!);
        cpu.checks.push(checksRun.cpu!);
      }
    }
    const ms = (values: readonly number[]) => {
      const { p50, min, max } = stats(values);
      return `p50 ${p50.toFixed(0)} ms (${min.toFixed(0)}–${max.toFixed(0)})`;
    };
    const ratio = (a: readonly number[], b: readonly number[]) => (stats(a).p50 / stats(b).p50).toFixed(2);
    console.log(`${RUNS} runs of each, interleaved, on ${server.description}`);
    console.log(`runbook-bot health: start -> first connection ${ms(health.first)}  (goal <= 300 ms)`);
    console.log(`runbook-bot health: start -> exit             ${ms(health.wall)}`);
    console.log(`runbook-bot checks (no database): start -> exit ${ms(checks.wall)}`);
    if (COMPARE)
      console.log(
        `the same health from ${COMPARE}: -> first connection ${ms(compared.first)}, -> exit ${ms(compared.wall)}${compared.cpu.length > 0 ? `, CPU ${ms(compared.cpu)}` : ''}; this build / that (first connection, p50) ${ratio(health.first, compared.first)}`,
      );
    console.log(`anchor: node -e '' -> exit                     ${ms(samples.node)}`);
    console.log(
      `anchor: node + pg, SELECT 1: -> first connection ${ms(samples.bareFirst)}, -> exit ${ms(samples.bare)}`,
    );
    console.log(
      `ratios (p50): health first connection / bare pg's ${ratio(health.first, samples.bareFirst)}; health exit / bare pg exit ${ratio(health.wall, samples.bare)}; health's start beyond bare pg's: ${(stats(health.first).p50 - stats(samples.bareFirst).p50).toFixed(0)} ms`,
    );
    if (cpu.node.length > 0)
      console.log(
        `CPU time (user + system): health ${ms(cpu.health)}, checks ${ms(cpu.checks)}, node -e '' ${ms(cpu.node)}, node + pg ${ms(cpu.bare)}; health / node + pg ${ratio(cpu.health, cpu.bare)}`,
      );
    console.log(
      `machine at end: ${machineLoad()}; all cores ${(busy() * 100).toFixed(0)} % busy during the bench (everything on the machine)`,
    );
  } finally {
    await proxy.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
