/**
 * What the process benches (bench/fleet.ts, bench/cliStart.ts) share: a Postgres server to
 * make databases on, Redis, the Slack Web API stand-in, the built bot and worker as separate
 * processes, and how busy the machine was. bench/ack.ts keeps copies of a few of these.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { settlesWithin } from '../src/concurrency/withTimeout.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../src/store/embeddedPostgres.js';
import { percentile } from './stats.js';

const STOP_TIMEOUT_MS = 15_000;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

export interface BenchServer {
  adminUrl: string;
  urlOf(database: string): string;
  /** Where the databases live, for the printout (no password). */
  description: string;
  stop(): Promise<void>;
}

/** BENCH_DATABASE_URL's server (the databases made there are kept), else an embedded one. */
export async function benchServer(settings?: Record<string, string>): Promise<BenchServer> {
  if (process.env.BENCH_DATABASE_URL) {
    const base = new URL(process.env.BENCH_DATABASE_URL);
    return {
      adminUrl: base.toString(),
      urlOf: (db) => Object.assign(new URL(base.toString()), { pathname: `/${db}` }).toString(),
      description: `the server at ${base.host}`,
      stop: async () => undefined,
    };
  }
  const embedded: EmbeddedServer = await startEmbeddedPostgres(settings ? { settings } : {});
  return {
    adminUrl: embedded.url(),
    urlOf: (db) => embedded.url(db),
    description: 'an embedded PostgreSQL',
    stop: () => embedded.stop(),
  };
}

/** Creates each database that does not exist yet; answers how many it made. */
export async function ensureDatabases(adminUrl: string, names: readonly string[]): Promise<number> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = ANY($1::text[])',
      [names],
    );
    const existing = new Set(rows.map((row) => row.datname));
    const missing = names.filter((name) => !existing.has(name));
    // CREATE DATABASE cannot run in a transaction block, so one statement each.
    for (const name of missing) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return missing.length;
  } finally {
    await admin.end();
  }
}

/** A fresh, empty database (dropped first when it exists): a state database with no history. */
export async function freshDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
}

/**
 * A login role with pg_monitor and nothing more, as `runbook-bot init-roles` advises: checks
 * run as a superuser report a warning on every target, which is not the fleet to measure.
 */
export async function ensureMonitorRole(adminUrl: string, role: string, password: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    const verb = rowCount === 1 ? 'ALTER' : 'CREATE';
    await admin.query(
      `${verb} ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)} NOSUPERUSER`,
    );
    await admin.query(`GRANT pg_monitor TO ${pg.escapeIdentifier(role)}`);
  } finally {
    await admin.end();
  }
}

/** The same URL logging in as another role. */
export function withRole(url: string, role: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = password;
  return parsed.toString();
}

/** Redis: REDIS_URL, else a redis-server of our own when one is installed, else none (PostgreSQL queue). */
export async function benchRedis(): Promise<{ url?: string; stop: () => void }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: () => undefined };
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    return { stop: () => undefined };
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill() };
}

export interface SlackStandIn {
  url: string;
  pid: number;
  /** How many chat.postMessage calls it has answered. */
  count(): Promise<number>;
  /** Each channel's chat.postMessage arrival times (wall-clock ms), thread replies included. */
  posts(): Promise<Map<string, number[]>>;
  close(): Promise<void>;
}

/** The Web API stand-in (bench/fakeSlack.ts), in a child process: see there why. */
export async function slackStandIn(): Promise<SlackStandIn> {
  const child = fork(fileURLToPath(new URL('./fakeSlack.ts', import.meta.url)), [], { stdio: 'inherit' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A stand-in that dies fails the question instead of leaving the bench waiting.
  const ask = <T>(question?: string) =>
    new Promise<T>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null)
        return reject(new Error('the Slack stand-in has exited'));
      const gone = () => reject(new Error('the Slack stand-in exited'));
      child.once('exit', gone);
      child.once('message', (answer) => {
        child.off('exit', gone);
        resolve(answer as T);
      });
      if (question) child.send(question);
    });
  const { port } = await ask<{ port: number }>();
  return {
    url: `http://127.0.0.1:${port}/api/`,
    pid: child.pid!,
    count: async () => (await ask<{ count: number }>('count')).count,
    posts: async () => new Map((await ask<{ posts: Array<[string, number[]]> }>('posts')).posts),
    close: async () => {
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}

/** `node dist/main.js <mode>`: the built code, as production runs it. */
export function startService(
  mode: 'bot' | 'worker',
  env: NodeJS.ProcessEnv,
  port: number,
  nodeArgs: string[] = [],
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, 'dist/main.js', mode], {
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export async function waitForReady(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`the ${what} exited during start-up`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the ${what} did not become ready`);
}

/** SIGTERM, then SIGKILL if it has not exited in time: a failed run leaves nothing behind. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  if (!(await settlesWithin(exited, STOP_TIMEOUT_MS))) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** CPU seconds a process used (user + system), with its reaped children when asked (Postgres backends). */
export function cpuSeconds(pid: number, withChildren = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // Fields after the command: utime, stime, cutime, cstime are the 12th to 15th (clock ticks).
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [number, number, number, number];
  return (utime + stime + (withChildren ? cutime + cstime : 0)) / 100;
}

/**
 * How busy the machine is, for the printout: other sessions share these cores, and a figure
 * means little without it. CPU busy is measured over the given span from /proc/stat.
 */
export function machineLoad(): string {
  const [one, five] = loadavg();
  return `${availableParallelism()} cores, load average ${one!.toFixed(2)} (1 min) ${five!.toFixed(2)} (5 min)`;
}

/** Busy share of all cores between two /proc/stat readings (everything on the machine). */
export function cpuBusy(): () => number {
  const read = () => {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    return { idle, total };
  };
  const before = read();
  return () => {
    const after = read();
    const total = after.total - before.total;
    return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
  };
}

/** p50 and range of some samples, for a line of figures. */
export function stats(samples: readonly number[]): { p50: number; min: number; max: number } {
  return { p50: percentile(samples, 50), min: Math.min(...samples), max: Math.max(...samples) };
}
