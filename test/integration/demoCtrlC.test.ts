import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { consolePost, consoleState } from '../../src/console/consoleClient.js';
import { EMBEDDED_FOLDER_PREFIX } from '../../src/store/embeddedPostgres.js';

/**
 * Ctrl-C as a terminal sends it: SIGINT to the demo's whole process group, at the moments a
 * person presses it. Whenever it comes, the demo says it is stopping once, exits 130, and
 * leaves no embedded Postgres folder and no Postgres process behind. Each demo gets a TMPDIR
 * of its own, so what it leaves is told apart from other test runs' servers.
 */
interface Demo {
  child: ChildProcess;
  tmp: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const STOPPING = /Stopping|Cleaning up/;
const demos: Demo[] = [];

async function startDemo(script: string): Promise<Demo> {
  const tmp = await mkdtemp(join(tmpdir(), 'demo-ctrl-c-'));
  // The server runs as `postgres` when the tests run as root: it must reach its folder.
  await chmod(tmp, 0o755);
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    detached: true,
    env: { ...process.env, TMPDIR: tmp, CONSOLE_PORT: '0', LOG_LEVEL: 'warn', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const demo = { child, tmp, stdout: () => out, stderr: () => err, exited };
  demos.push(demo);
  return demo;
}

async function until<T>(what: string, demo: Demo, probe: () => Promise<T | undefined> | T | undefined) {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (demo.child.exitCode !== null)
      throw new Error(`the demo exited before ${what}:\n${demo.stdout()}\n${demo.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function embeddedFolders(demo: Demo): Promise<string[]> {
  return (await readdir(demo.tmp)).filter((name) => name.startsWith(EMBEDDED_FOLDER_PREFIX));
}

/** Processes whose command line names the demo's TMPDIR: initdb and the postmaster (`-D <dir>`). */
async function processesIn(tmp: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(tmp)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The live processes of a group, with their command lines: what a failure should name. A zombie
 * has exited already; whether it is reaped at once depends on the machine's init, not the demo.
 */
async function groupMembers(pgid: number): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command name: state, ppid, pgrp.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) !== pgid || state === 'Z') continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

/**
 * What is left of a group once its processes have had time to exit. A helper that got the same
 * SIGINT (tsx's esbuild service, say) may take a moment longer than the demo on a loaded CI
 * machine; ten seconds tells that apart from a process that stays.
 */
async function groupLeftAfterAWhile(pgid: number): Promise<string[]> {
  let left = await groupMembers(pgid);
  for (let tries = 0; tries < 100 && left.length; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = await groupMembers(pgid);
  }
  return left;
}

/** The postmaster's pid, once it runs; it leads the process group its backends are in. */
async function postmaster(demo: Demo): Promise<number> {
  return until('Postgres ran', demo, async () => {
    const [line] = (await processesIn(demo.tmp)).filter((entry) => / -D /.test(entry));
    return line ? Number(line.split(':')[0]) : undefined;
  });
}

async function ctrlC(demo: Demo, postmasterPid?: number): Promise<void> {
  process.kill(-demo.child.pid!, 'SIGINT');
  const code = await demo.exited;
  const context = `stdout:\n${demo.stdout()}\nstderr:\n${demo.stderr()}`;
  expect(code, context).toBe(130);
  expect(
    demo
      .stdout()
      .split('\n')
      .filter((line) => STOPPING.test(line)),
    context,
  ).toHaveLength(1);
  // Sessions ended at shutdown are expected: nothing about them is printed, least of all JSON.
  expect(demo.stderr(), context).toBe('');
  expect(await embeddedFolders(demo)).toEqual([]);
  expect(await processesIn(demo.tmp)).toEqual([]);
  // A process SIGKILLed as the demo exits is gone a moment later, once init has reaped it.
  if (postmasterPid !== undefined) expect(await groupLeftAfterAWhile(postmasterPid)).toEqual([]);
  expect(await groupLeftAfterAWhile(demo.child.pid!)).toEqual([]);
}

afterEach(async () => {
  for (const demo of demos.splice(0)) {
    if (demo.child.exitCode === null && groupAlive(demo.child.pid!))
      process.kill(-demo.child.pid!, 'SIGKILL');
    await rm(demo.tmp, { recursive: true, force: true });
  }
});

/** Until the demo has printed `text`. */
const printed = (demo: Demo, text: string) =>
  until(`it printed "${text}"`, demo, () => (demo.stdout().includes(text) ? true : undefined));

const DEMO = 'src/demo/main.ts';
const TERMINAL_DEMO = 'src/demo/terminalDemo.ts';

describe('Ctrl-C', { timeout: 240_000 }, () => {
  it.each([DEMO, TERMINAL_DEMO])(
    'in %s during start-up, while its Postgres is being made',
    async (script) => {
      const demo = await startDemo(script);
      await until('it made its folder', demo, async () =>
        (await embeddedFolders(demo)).length ? true : undefined,
      );
      await ctrlC(demo);
    },
  );

  it('in npm run demo during start-up, once its Postgres runs and the bot is starting', async () => {
    const demo = await startDemo(DEMO);
    const pid = await postmaster(demo);
    expect(demo.stdout()).not.toContain('Local Slack console');
    await ctrlC(demo, pid);
  });

  it('in npm run demo right after it is ready', async () => {
    const demo = await startDemo(DEMO);
    await printed(demo, 'Local Slack console');
    await ctrlC(demo, await postmaster(demo));
  });

  it('in npm run demo while a health check runs', async () => {
    const demo = await startDemo(DEMO);
    const url = await until('it was ready', demo, () => demo.stdout().match(/console: (http\S+)/)?.[1]);
    const pid = await postmaster(demo);
    const sent = await consolePost(url, 'send', {
      user: 'U0ALICE',
      channel: 'C0INCIDENTS',
      text: '/runbook health',
    });
    expect(sent.ok).toBe(true);
    await until('the check started', demo, async () => {
      const state = await consoleState(url, 'U0ALICE');
      return state.messages.some((message) => message.text.includes('Running health check'))
        ? true
        : undefined;
    });
    await ctrlC(demo, pid);
  });

  it('in npm run demo:terminal while its health check runs', async () => {
    const demo = await startDemo(TERMINAL_DEMO);
    await printed(demo, 'Running the health check');
    await ctrlC(demo);
  });
});
