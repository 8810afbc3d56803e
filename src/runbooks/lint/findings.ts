/**
 * What `runbook-bot lint` reports beyond what the loader understood: statements that would
 * fail, do nothing, or do something else than the author meant on a real database.
 * An *error* is a statement that cannot run as written (an unknown table, a column renamed in
 * PostgreSQL 13, `SET` with a parameter); a *warning* is one that runs but probably not as
 * meant (an example value left in, SQL a person must copy out of a TypeScript block).
 */
export type LintSeverity = 'error' | 'warning';

export type LintRule =
  | 'renamed-column'
  | 'sql-in-other-fence'
  | 'set-parameter'
  | 'example-value'
  | 'template-identifier'
  | 'unknown-table'
  | 'unknown-column'
  | 'unknown-function'
  | 'unknown-object'
  | 'does-not-resolve'
  | 'ignored-threshold';

export interface LintFinding {
  severity: LintSeverity;
  rule: LintRule;
  file: string;
  /** 1-based line in the file. */
  line: number;
  /** The procedure the statement belongs to, when it belongs to one. */
  procedure?: string;
  message: string;
  /** What to write instead, when there is a fix to suggest. */
  suggestion?: string;
}

export function byLocation(a: LintFinding, b: LintFinding): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule);
}

/** Edit distance, for "did you mean" among a catalog's names. */
export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

/**
 * The closest names to `name`, near enough to be a typo or a singular/plural slip
 * (`job` for `jobs_db` is not offered; `jobs_dbs` for `jobs_db` is).
 */
export function closestNames(name: string, candidates: Iterable<string>, max = 3): string[] {
  const wanted = name.toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return [...new Set(candidates)]
    .map((candidate) => {
      const lower = candidate.toLowerCase();
      const contains =
        lower.length > 3 && wanted.length > 3 && (lower.includes(wanted) || wanted.includes(lower));
      return {
        candidate,
        distance: contains ? Math.min(1, editDistance(wanted, lower)) : editDistance(wanted, lower),
      };
    })
    .filter((entry) => entry.distance <= limit)
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, max)
    .map((entry) => entry.candidate);
}

/**
 * Names that read as a template's stand-in rather than an object of a real database:
 * `table_name`, `trigger_name`, `your_table`, `my_index`, `some_function`.
 */
export function looksLikeTemplateName(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    /^(your|my|some|example|sample|foo|bar)(_|$)/.test(lower) ||
    /^(table|index|trigger|schema|column|function|view|sequence|policy|constraint|role|extension|database|db|object|relation)(_(name|function|fn|table))?$/.test(
      lower,
    )
  );
}
