import { Worker } from 'node:worker_threads';
import type { ReadSources, RunbookSource } from './readRunbookSources.js';

// From TypeScript sources the thread starts through a small entry that registers tsx first.
const THREAD = import.meta.url.endsWith('.ts')
  ? new URL('./readRunbooksThread.fromSources.mjs', import.meta.url)
  : new URL('./readRunbooksThread.js', import.meta.url);

/**
 * readRunbookSources in a short-lived worker thread. The SQL parser (libpg-query) is
 * WebAssembly whose heap grows to tens of megabytes while the runbooks are parsed and is
 * never given back; parsed in a thread, it goes away with the thread instead of staying in
 * the bot for its whole life. The result is plain data, copied back.
 */
export function readRunbookSourcesIsolated(sources: RunbookSource[]): Promise<ReadSources> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(THREAD, { workerData: sources });
    let answered = false;
    worker.once('message', (message: { ok: true; result: ReadSources } | { ok: false; message: string }) => {
      answered = true;
      void worker.terminate();
      if (message.ok) resolve(message.result);
      else reject(new Error(message.message));
    });
    worker.once('error', (err) => {
      answered = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the runbook reader thread exited (${code}) without an answer`));
    });
  });
}
