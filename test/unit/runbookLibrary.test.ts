import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchProcedures } from '../../src/runbooks/matchProcedures.js';
import { readRunbookSources } from '../../src/runbooks/readRunbookSources.js';
import { readRunbookSourcesIsolated } from '../../src/runbooks/readRunbooksIsolated.js';
import { loadRunbookFile } from '../../src/runbooks/runbookFiles.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('the runbook library', () => {
  let library: RunbookLibrary;
  beforeAll(async () => {
    const loaded = await RunbookLibrary.load(runbookSources());
    expect(loaded.summary.problems).toEqual([]);
    library = loaded.library;
  });

  it('ships the five seed runbooks byte for byte, and the health runbook', () => {
    const seeds = readdirSync(here('../fixtures/seeds')).map((name) =>
      sha256(here(`../fixtures/seeds/${name}`)),
    );
    const shipped = library.list().map((runbook) => runbook.source.sha256);
    for (const seed of seeds) expect(shipped).toContain(seed);
    expect(library.list().map((runbook) => runbook.id)).toContain('postgres-health');
    expect(library.list()).toHaveLength(6);
  });

  it('resolves every procedure the health checks point to', () => {
    const checksDir = here('../../src/health/checks');
    const hints = readdirSync(checksDir).flatMap((file) =>
      [...readFileSync(join(checksDir, file), 'utf8').matchAll(/procedure: '([^']+)'/g)].map(
        (match) => match[1]!,
      ),
    );
    expect(hints.length).toBeGreaterThan(15);
    for (const hint of hints) expect(library.procedure(hint), hint).toBeDefined();
  });

  it('loads its own health runbook without a warning, every procedure with a check', () => {
    const health = library.runbook('postgres-health')!;
    expect(health.warnings).toEqual([]);
    for (const procedure of health.procedures)
      expect(
        procedure.steps.some((step) => step.kind === 'check'),
        procedure.id,
      ).toBe(true);
  });

  it('reads the same library in a child process as in this one (what the bot does, to shed the parser)', async () => {
    const sources = runbookSources();
    const [here, isolated] = await Promise.all([
      readRunbookSources(sources),
      readRunbookSourcesIsolated(sources),
    ]);
    expect(isolated.runbooks.length).toBe(6);
    expect(isolated).toStrictEqual(here);
  });

  it('runs reloads one after another, and keeps the current set when a read fails', async () => {
    const sources = runbookSources();
    const full = await readRunbookSources(sources);
    let reads = 0;
    let failNext = false;
    const { library: reloading } = await RunbookLibrary.load(sources, async () => {
      reads += 1;
      const mine = reads;
      if (failNext) throw new Error('reader process exited');
      // The first of two overlapping reloads is the slow one: it must not land last.
      await new Promise((resolve) => setTimeout(resolve, mine === 2 ? 50 : 0));
      return { runbooks: mine === 2 ? full.runbooks.slice(0, 1) : full.runbooks, problems: [] };
    });
    const [slow, fast] = await Promise.all([reloading.reload(), reloading.reload()]);
    expect([slow.runbooks, fast.runbooks]).toEqual([1, 6]);
    expect(reloading.list()).toHaveLength(6);

    failNext = true;
    const failed = await reloading.reload();
    expect(failed.problems[0]?.message).toMatch(
      /^cannot read the runbooks \(the previous set stays loaded\): reader process exited/,
    );
    expect(failed.runbooks).toBe(6);
    expect(reloading.list()).toHaveLength(6);
  });

  it('finds a procedure by full id, by the part after # or by title, and names candidates otherwise', () => {
    expect(library.resolveProcedure('postgres-health#vacuum-table').procedure.title).toBe('Vacuum table');
    expect(library.resolveProcedure('vacuum-table').procedure.id).toBe('postgres-health#vacuum-table');
    expect(library.resolveProcedure('Vacuum table').procedure.id).toBe('postgres-health#vacuum-table');
    expect(() => library.resolveProcedure('vacuum')).toThrow(/Did you mean `postgres-health#vacuum-table`/);
  });

  it('ranks procedures by error strings and symptoms', () => {
    const first = (text: string) => matchProcedures(text, library.procedures())[0]?.procedure.id;
    expect(first('PGRST002: Could not query the database for the schema cache')).toBe(
      'hampton-mowerpower-system-runbook#critical-database-api-connection-lost-error',
    );
    expect(first('Circuit breaker is open')).toBe('production-operations-runbook#1-circuit-breaker-recovery');
    // Seed 003 has its own "Connection Pool Exhaustion"; both outrank everything else.
    const connections = matchProcedures('FATAL: sorry, too many connections', library.procedures());
    expect(
      connections
        .slice(0, 2)
        .map((match) => match.procedure.id)
        .sort(),
    ).toEqual([
      'database-operations-runbook#connection-pool-exhaustion',
      'postgres-health#connection-pool-exhaustion',
    ]);
    expect(matchProcedures('', library.procedures())).toEqual([]);
  });
});

describe('runbook files', () => {
  const made: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  it('records the content hash and the git commit of a runbook in a repository', async () => {
    const dir = tempDir('runbooks-git-');
    const file = join(dir, 'ops.md');
    writeFileSync(file, '# Ops\n\n## Check\n\n```sql\nSELECT 1;\n```\n');
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir })
        .toString()
        .trim();
    git('init', '-q');
    git('add', 'ops.md');
    git('commit', '-q', '-m', 'ops runbook');
    const runbook = await loadRunbookFile(file, 'team');
    expect(runbook.source.gitCommit).toBe(git('rev-parse', 'HEAD'));
    expect(runbook.source.sha256).toBe(sha256(file));
  });

  it('gives a second runbook with a taken id its own, and says so', async () => {
    const dir = tempDir('runbooks-clash-');
    writeFileSync(join(dir, 'a.md'), '# Ops\n\n## Check\n\n```sql\nSELECT 1;\n```\n');
    writeFileSync(join(dir, 'b.md'), '# Ops\n\n## Check\n\n```sql\nSELECT 2;\n```\n');
    const { library, summary } = await RunbookLibrary.load([{ dir, origin: 'team' }]);
    expect(library.list().map((runbook) => runbook.id)).toEqual(['ops', 'ops-2']);
    expect(library.procedure('ops-2#check')).toBeDefined();
    expect(summary.problems[0]?.message).toContain('already taken');
  });

  it('reports an unreadable directory instead of failing the load', async () => {
    const { library, summary } = await RunbookLibrary.load([
      { dir: '/nonexistent/runbooks', origin: 'team' },
    ]);
    expect(library.list()).toEqual([]);
    expect(summary.problems[0]?.message).toContain('cannot read the directory');
  });
});
