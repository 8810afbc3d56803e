import { parentPort, workerData } from 'node:worker_threads';
import { type RunbookSource, readRunbookSources } from './readRunbookSources.js';

// The worker-thread side of readRunbookSourcesIsolated: read, answer, and end with the thread.
readRunbookSources(workerData as RunbookSource[]).then(
  (result) => parentPort?.postMessage({ ok: true, result }),
  (err: unknown) =>
    parentPort?.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) }),
);
