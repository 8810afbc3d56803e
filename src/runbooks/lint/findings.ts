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

// Shared with previews, which refuse a statement naming what the target lacks.
export { closestNames, editDistance, looksLikeTemplateName } from '../sql/catalogNames.js';
