import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parseRunbook } from './markdown/parseRunbook.js';
import type { Runbook } from './model.js';
import { loadSqlParser } from './sql/analyzeSqlBlock.js';

const RUNBOOK_EXTENSIONS = /\.(md|markdown)$/i;

/** Reads one Markdown runbook and records where it came from: file, content hash, git commit. */
export async function loadRunbookFile(file: string, origin: Runbook['source']['origin']): Promise<Runbook> {
  await loadSqlParser();
  const bytes = await readFile(file);
  const parsed = parseRunbook(bytes.toString('utf8'), file);
  return {
    ...parsed,
    source: {
      file,
      origin,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      gitCommit: await lastCommitOf(file),
    },
  };
}

/** The Markdown files of a directory, sorted so ids are assigned the same way every load. */
export async function runbookFilesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && RUNBOOK_EXTENSIONS.test(entry.name))
    .map((entry) => join(dir, entry.name))
    .sort();
}

const run = promisify(execFile);

/** The commit that last touched the file, when it lives in a git repository (and git exists). */
async function lastCommitOf(file: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['log', '-n', '1', '--format=%H', '--', basename(file)], {
      cwd: dirname(file),
      timeout: 5000,
    });
    const commit = stdout.trim();
    return /^[0-9a-f]{40}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}
