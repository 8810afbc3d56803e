import type { Runbook } from './model.js';
import { loadRunbookFile, runbookFilesIn } from './runbookFiles.js';

export interface RunbookSource {
  dir: string;
  origin: 'built-in' | 'team';
}

export interface LibraryProblem {
  file: string;
  line?: number;
  message: string;
}

/** What reading the sources gave: plain data, so it can come back from a child process. */
export interface ReadSources {
  runbooks: Runbook[];
  problems: LibraryProblem[];
}

/** Reads every runbook of every source, in order; a file that cannot be read is a problem, not a failure. */
export async function readRunbookSources(sources: RunbookSource[]): Promise<ReadSources> {
  const problems: LibraryProblem[] = [];
  const runbooks: Runbook[] = [];
  for (const source of sources) {
    let files: string[];
    try {
      files = await runbookFilesIn(source.dir);
    } catch (err) {
      problems.push({ file: source.dir, message: `cannot read the directory: ${(err as Error).message}` });
      continue;
    }
    for (const file of files) {
      try {
        runbooks.push(await loadRunbookFile(file, source.origin));
      } catch (err) {
        problems.push({ file, message: `cannot load: ${(err as Error).message}` });
      }
    }
  }
  return { runbooks, problems };
}
