import type { Suggestion } from '../answer.js';
import { UserError } from '../errors.js';
import { errorText } from '../redact.js';
import { closestNames } from './lint/findings.js';
import type { Procedure, Runbook } from './model.js';
import type { LibraryProblem, ReadSources, RunbookSource } from './readRunbookSources.js';
import { BUILT_IN_RUNBOOKS_DIR } from './runbookDirs.js';

export type { LibraryProblem, RunbookSource };

export interface LoadSummary {
  runbooks: number;
  procedures: number;
  /** Files that could not be read at all, and id clashes. */
  problems: LibraryProblem[];
  /** Loader warnings of the files that loaded. */
  warnings: number;
}

export interface ProcedureRef {
  runbook: Runbook;
  procedure: Procedure;
}

/** Built-in runbooks, then a team's own directory (RUNBOOKS_DIR) when configured. */
export function runbookSources(teamDir?: string): RunbookSource[] {
  return [
    { dir: BUILT_IN_RUNBOOKS_DIR, origin: 'built-in' },
    ...(teamDir ? [{ dir: teamDir, origin: 'team' as const }] : []),
  ];
}

/**
 * Every runbook the bot knows. Loading never fails on one bad file: it is reported and the
 * others load. A reload swaps the whole set at once, so a command never sees half of one.
 */
export class RunbookLibrary {
  private runbooks: Runbook[] = [];
  private byProcedureId = new Map<string, ProcedureRef>();
  private reloading: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly sources: RunbookSource[],
    private readonly read: (sources: RunbookSource[]) => Promise<ReadSources>,
  ) {}

  /**
   * Loads the sources. `read` defaults to reading in this process; the bot passes
   * readRunbookSourcesIsolated so the SQL parser's memory does not stay with it. The
   * reader (markdown and SQL parsers) is imported only when used, for the same reason.
   */
  static async load(
    sources: RunbookSource[],
    read: (sources: RunbookSource[]) => Promise<ReadSources> = readInThisProcess,
  ): Promise<{ library: RunbookLibrary; summary: LoadSummary }> {
    const library = new RunbookLibrary(sources, read);
    const summary = await library.reload();
    return { library, summary };
  }

  /**
   * Reads the files again. Reloads run one after another (SIGHUP and `/runbook reload` may
   * overlap), so the last one to finish read the files last. A read that fails altogether
   * keeps the current set and says so.
   */
  reload(): Promise<LoadSummary> {
    const next = this.reloading.then(() => this.reloadNow());
    this.reloading = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(): Promise<LoadSummary> {
    let read: ReadSources;
    try {
      read = await this.read(this.sources);
    } catch (err) {
      return this.summary([
        {
          file: this.sources.map((source) => source.dir).join(', '),
          // On the first read there is no previous set to keep: the bot starts with none.
          message: `cannot read the runbooks (${this.runbooks.length > 0 ? 'the previous set stays loaded' : 'none are loaded'}): ${errorText(err)}`,
        },
      ]);
    }
    const problems = [...read.problems];
    this.runbooks = withUniqueIds(read.runbooks, problems);
    this.byProcedureId = new Map(
      this.runbooks.flatMap((runbook) =>
        runbook.procedures.map((procedure) => [procedure.id, { runbook, procedure }] as const),
      ),
    );
    return this.summary(problems);
  }

  private summary(problems: LibraryProblem[]): LoadSummary {
    return {
      runbooks: this.runbooks.length,
      procedures: this.byProcedureId.size,
      problems,
      warnings: this.runbooks.reduce((sum, runbook) => sum + runbook.warnings.length, 0),
    };
  }

  list(): Runbook[] {
    return this.runbooks;
  }

  procedures(): ProcedureRef[] {
    return [...this.byProcedureId.values()];
  }

  runbook(id: string): Runbook | undefined {
    return this.runbooks.find((runbook) => runbook.id === id);
  }

  procedure(id: string): ProcedureRef | undefined {
    return this.byProcedureId.get(id);
  }

  /**
   * Finds a procedure by its full id, or by the part after `#` when only one runbook has it,
   * or by its exact title. Anything else is a UserError naming the close candidates.
   */
  resolveProcedure(reference: string): ProcedureRef {
    const wanted = reference.trim().toLowerCase();
    const exact = this.byProcedureId.get(wanted);
    if (exact) return exact;
    const all = this.procedures();
    const bySlug = all.filter(({ procedure }) => procedure.id.split('#')[1] === wanted);
    if (bySlug.length === 1) return bySlug[0]!;
    const byTitle = all.filter(({ procedure }) => procedure.title.toLowerCase() === wanted);
    if (byTitle.length === 1) return byTitle[0]!;
    if (bySlug.length > 1)
      throw new UserError(
        `"${reference}" is in several runbooks; use the full id: ${quotedIds(bySlug.slice(0, 5))}.`,
      );
    // Ids that hold what was typed, then ids (or the part after `#`) a typo away from it.
    const containing = all.filter(({ procedure }) => procedure.id.includes(wanted));
    const slug = (ref: ProcedureRef) => ref.procedure.id.split('#')[1] ?? ref.procedure.id;
    const close = closestNames(
      wanted,
      all.flatMap((ref) => [ref.procedure.id, slug(ref)]),
      5,
    );
    // Closest first: a typo of the id ranks above an id that only shares a word or two.
    const typos = close.flatMap((name) =>
      all.filter((ref) => ref.procedure.id === name || slug(ref) === name),
    );
    const candidates = [...new Set([...containing, ...typos])].slice(0, 5);
    throw new UserError(
      candidates.length > 0
        ? `No procedure "${reference}". Did you mean ${quotedIds(candidates)}?`
        : `No procedure "${reference}".`,
      { suggestions: FIND_A_PROCEDURE },
    );
  }
}

/** What to try when a procedure id is not known, whatever the medium. */
const FIND_A_PROCEDURE: Suggestion[] = [
  { family: 'runbook', words: 'list', does: 'shows them all' },
  { family: 'runbook', words: 'match <symptom>', does: 'finds one by symptom' },
];

function quotedIds(refs: ProcedureRef[]): string {
  return refs.map(({ procedure }) => `\`${procedure.id}\``).join(', ');
}

/** A runbook id must name one runbook: a later file with a taken id gets `-2`, and a problem. */
function withUniqueIds(runbooks: Runbook[], problems: LibraryProblem[]): Runbook[] {
  const taken = new Set<string>();
  return runbooks.map((runbook) => {
    if (!taken.has(runbook.id)) {
      taken.add(runbook.id);
      return runbook;
    }
    let n = 2;
    while (taken.has(`${runbook.id}-${n}`)) n += 1;
    const id = `${runbook.id}-${n}`;
    taken.add(id);
    problems.push({
      file: runbook.source.file,
      message: `runbook id "${runbook.id}" is already taken by another file; this one is "${id}" (change its title to choose)`,
    });
    return {
      ...runbook,
      id,
      procedures: runbook.procedures.map((procedure) => ({
        ...procedure,
        id: `${id}#${procedure.id.slice(procedure.id.indexOf('#') + 1)}`,
      })),
    };
  });
}

async function readInThisProcess(sources: RunbookSource[]): Promise<ReadSources> {
  const { readRunbookSources } = await import('./readRunbookSources.js');
  return readRunbookSources(sources);
}
