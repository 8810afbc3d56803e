import { fork } from 'node:child_process';

/** A function exported by a module, run in a short-lived child process by runInChildProcess. */
export interface ChildTask {
  /** The module's URL: a sibling of the caller, named with taskModule(). */
  module: URL;
  exportName: string;
}

/** What the child answers: the result, or the error's message and code (a pg SQLSTATE, say). */
export type ChildAnswer = { ok: true; result: unknown } | { ok: false; message: string; code?: string };

/** What the child is asked: which function, with what. */
export interface ChildRequest {
  module: string;
  exportName: string;
  input: unknown;
}

// From TypeScript sources (tests, `npm run demo`) the child starts through a small entry
// that registers tsx first; built code (dist/) starts the compiled entry directly.
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const ENTRY = FROM_SOURCES
  ? new URL('./childTaskEntry.fromSources.mjs', import.meta.url)
  : new URL('./childTaskEntry.js', import.meta.url);

/** Long enough for a large RUNBOOKS_DIR or a migration waiting for another replica's lock. */
const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/** `./name.js` next to `importMetaUrl`, or `./name.ts` when running from sources. */
export function taskModule(name: string, importMetaUrl: string): URL {
  return new URL(`./${name}${FROM_SOURCES ? '.ts' : '.js'}`, importMetaUrl);
}

/**
 * Runs one exported function in a child process that ends with the answer. For work done
 * once in a while whose modules and memory should not stay in a long-running process: the
 * SQL parser's WebAssembly heap, the migration runner. A process rather than a thread: a
 * finished thread's memory goes back to the allocator, which keeps much of it (measured:
 * the bot stayed 15–25 MB larger after thread-run start-up work, and varied by as much),
 * while an exited process gives all of it back. Input and result are copied (structured
 * clone); an error comes back with its message and `code`. A child still working after
 * `timeoutMs` is killed and the call fails, so a stuck read never blocks later ones.
 */
export function runInChildProcess<T>(
  task: ChildTask,
  input: unknown,
  { timeoutMs = DEFAULT_TIMEOUT_MS }: { timeoutMs?: number } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    // Not the parent's command-line flags: its --inspect port or --cpu-prof is not the
    // child's (NODE_OPTIONS, like the rest of the environment, still applies).
    // A process group of its own: a terminal's Ctrl-C reaches the parent alone, which
    // decides (a start-up is finished, then stopped in order); the child still ends with it.
    const child = fork(ENTRY, [], {
      detached: true,
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(() => reject(new Error(`the ${task.exportName} process did not answer within ${timeoutMs} ms`)));
    }, timeoutMs);
    child.once('message', (answer: ChildAnswer) =>
      settle(() =>
        answer.ok
          ? resolve(answer.result as T)
          : reject(Object.assign(new Error(answer.message), answer.code ? { code: answer.code } : {})),
      ),
    );
    // 'error' may come more than once (a failed spawn, then a failed send or kill).
    child.on('error', (err) => settle(() => reject(err)));
    // 'close', not 'exit': only then has every message on the IPC channel been read.
    child.once('close', (code, signal) =>
      settle(() =>
        reject(new Error(`the ${task.exportName} process ended (${signal ?? code}) without an answer`)),
      ),
    );
    const request: ChildRequest = { module: task.module.href, exportName: task.exportName, input };
    child.send(request);
  });
}
