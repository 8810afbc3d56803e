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
const ENTRY = import.meta.url.endsWith('.ts')
  ? new URL('./childTaskEntry.fromSources.mjs', import.meta.url)
  : new URL('./childTaskEntry.js', import.meta.url);

/** `./name.js` next to `importMetaUrl`, or `./name.ts` when running from sources. */
export function taskModule(name: string, importMetaUrl: string): URL {
  return new URL(`./${name}${importMetaUrl.endsWith('.ts') ? '.ts' : '.js'}`, importMetaUrl);
}

/**
 * Runs one exported function in a child process that ends with the answer. For work done
 * once in a while whose modules and memory should not stay in a long-running process: the
 * SQL parser's WebAssembly heap, the migration runner. A process rather than a thread: a
 * finished thread's memory goes back to the allocator, which keeps much of it (measured:
 * the bot stayed 15–25 MB larger after thread-run start-up work, and varied by as much),
 * while an exited process gives all of it back. Input and result are copied (structured
 * clone); an error comes back with its message and `code`.
 */
export function runInChildProcess<T>(task: ChildTask, input: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    // No execArgv of ours: an --inspect port or --cpu-prof of the parent is not the child's.
    const child = fork(ENTRY, [], {
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answered = false;
    child.once('message', (answer: ChildAnswer) => {
      answered = true;
      if (answer.ok) resolve(answer.result as T);
      else reject(Object.assign(new Error(answer.message), answer.code ? { code: answer.code } : {}));
    });
    child.once('error', (err) => {
      answered = true;
      reject(err);
    });
    child.once('exit', (code, signal) => {
      if (!answered)
        reject(new Error(`the ${task.exportName} process ended (${signal ?? code}) without an answer`));
    });
    const request: ChildRequest = { module: task.module.href, exportName: task.exportName, input };
    child.send(request);
  });
}
