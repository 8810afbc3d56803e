import { runInChildProcess, taskModule } from '../concurrency/childTask.js';
import type { ReadSources, RunbookSource } from './readRunbookSources.js';

/**
 * readRunbookSources in a short-lived child process. The SQL parser (libpg-query) is
 * WebAssembly whose heap grows to tens of megabytes while the runbooks are parsed and is
 * never given back; parsed in a child, it goes away with the child instead of staying in
 * the bot for its whole life. The result is plain data, copied back.
 */
export function readRunbookSourcesIsolated(sources: RunbookSource[]): Promise<ReadSources> {
  return runInChildProcess(
    { module: taskModule('readRunbookSources', import.meta.url), exportName: 'readRunbookSources' },
    sources,
  );
}
