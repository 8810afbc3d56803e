import type pg from 'pg';
import type { Runbook, Statement } from '../model.js';
import { strings, walk } from '../sql/ast.js';
import {
  CatalogNames,
  closestNames,
  looksLikeTemplateName,
  lookUpNames,
  type MissingName,
  nearestTo,
} from '../sql/catalogNames.js';
import { display, type Names, namesIn, PREPARABLE, type QualifiedName } from '../sql/statementNames.js';
import type { LintFinding, LintRule, LintSeverity } from './findings.js';
import { parseOne, renamedColumnsUsed } from './lintRunbook.js';

/**
 * Each statement of a runbook resolved against a target's catalog, without running it:
 * the tables, functions and triggers it names are looked up (`to_regclass`, `pg_proc`,
 * `pg_trigger`), then a DML statement is `PREPARE`d, which makes PostgreSQL resolve every
 * column and function call (parse analysis and rewrite only: nothing is planned or executed,
 * and the prepared statement is deallocated). A statement that calls a function of the
 * target's own is not prepared at all, only looked up: the bot never lets the target's code
 * near a lint. `inTransaction` runs its work in a rolled-back READ ONLY transaction.
 */
export type InTransaction = <T>(work: (client: pg.ClientBase) => Promise<T>) => Promise<T>;

interface Problem {
  severity: LintSeverity;
  rule: LintRule;
  /** Where in the statement text: the name the problem is about. */
  name?: string;
  /** 0-based line in the statement, when PostgreSQL said where. */
  lineOffset?: number;
  message: string;
  suggestion?: string;
}

export async function lintOnCatalog(
  runbooks: Runbook[],
  targetName: string,
  inTransaction: InTransaction,
): Promise<LintFinding[]> {
  const catalog = new CatalogNames();
  const findings: LintFinding[] = [];
  for (const runbook of runbooks)
    for (const procedure of runbook.procedures)
      for (const step of procedure.steps) {
        if (step.kind === 'manual') continue;
        const problems = await inTransaction((client) =>
          resolveStatement(client, step.statement, targetName, catalog).catch((err: unknown): Problem[] => [
            {
              severity: 'warning',
              rule: 'does-not-resolve',
              message: `lint could not resolve this statement on ${targetName}: ${(err as Error).message}`,
            },
          ]),
        );
        for (const problem of problems)
          findings.push({
            severity: problem.severity,
            rule: problem.rule,
            file: runbook.source.file,
            line:
              step.source.line + (problem.lineOffset ?? lineOffsetOfName(step.statement.text, problem.name)),
            procedure: procedure.id,
            message: problem.message,
            ...(problem.suggestion ? { suggestion: problem.suggestion } : {}),
          });
      }
  return findings;
}

function lineOffsetOfName(text: string, name: string | undefined): number {
  if (!name) return 0;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const index = text.search(new RegExp(`(?<![\\w$])"?${escaped}"?(?![\\w$])`, 'i'));
  return index < 0 ? 0 : text.slice(0, index).split('\n').length - 1;
}

async function resolveStatement(
  client: pg.ClientBase,
  statement: Statement,
  target: string,
  catalog: CatalogNames,
): Promise<Problem[]> {
  // Names given at run time (`VACUUM <table>`) are looked up then, when their values are known;
  // the stand-ins in the SQL until then are no table of any target.
  if (statement.identifiers?.length) return [];
  const tree = parseOne(statement.sql);
  if (!tree) return [];
  const names = namesIn(tree);
  const missing = (absent: MissingName): Problem => {
    const { name, kind, ifExists, on } = absent;
    const shown = display(name);
    const template = looksLikeTemplateName(name.name);
    const nearest = nearestTo(absent);
    const rule: LintRule = template
      ? 'template-identifier'
      : ['table', 'index', 'view', 'materialized view', 'sequence', 'foreign table'].includes(kind)
        ? 'unknown-table'
        : kind === 'function'
          ? 'unknown-function'
          : 'unknown-object';
    return {
      // `DROP … IF EXISTS` of something absent runs, and does nothing: worth a look, unless
      // the name is a template's, when the step can never do what it says.
      severity: ifExists && !template ? 'warning' : 'error',
      rule,
      name: name.name,
      message:
        `${kind} ${shown} does not exist ${on ? `on table ${display(on)} of` : 'on'} ${target}` +
        (ifExists ? `, so this ${statement.kind} IF EXISTS does nothing there` : '') +
        (template ? `; "${name.name}" reads as a template's stand-in, not a real name` : ''),
      suggestion: template
        ? `write the real name, or mark it as a placeholder (<${kind}>) so the step is not run as written`
        : nearest.length > 0
          ? `did you mean ${nearest.join(', ')}?`
          : kind === 'table' && name.name.startsWith('pg_stat_statements')
            ? 'CREATE EXTENSION pg_stat_statements on the target (it needs shared_preload_libraries)'
            : undefined,
    };
  };
  const { missing: absent, relationOids, userFunctions } = await lookUpNames(client, names, catalog);
  const problems = absent.map(missing);
  if (problems.length > 0) return problems;

  const [top] = Object.keys(tree);
  const inner = top === 'ExplainStmt' ? explainedQuery(statement.sql) : statement.sql;
  const innerTree = top === 'ExplainStmt' && inner ? parseOne(inner) : tree;
  const innerTop = innerTree ? Object.keys(innerTree)[0] : undefined;
  if (inner && innerTop && PREPARABLE.has(innerTop) && !userFunctions)
    return prepared(
      client,
      inner,
      statement.sql.length - inner.length,
      statement.sql,
      renamedColumnsUsed(tree),
      names,
    );
  return columnsByCatalog(client, tree, names, relationOids);
}

/** The query of an `EXPLAIN [(options)] [ANALYZE] [VERBOSE] query`. */
function explainedQuery(sql: string): string | undefined {
  const match = /^\s*explain\b(?:\s*\([^)]*\))?(?:\s+(?:analy[sz]e|verbose))*\s+/i.exec(sql);
  return match ? sql.slice(match[0].length) : undefined;
}

/**
 * PREPARE resolves every name and type without planning (the planner is where IMMUTABLE
 * functions are run on constants) or executing. It is not transactional: a prepared
 * statement outlives the ROLLBACK, so it is deallocated at once.
 */
async function prepared(
  client: pg.ClientBase,
  sql: string,
  offset: number,
  whole: string,
  renamed: string[],
  names: Names,
): Promise<Problem[]> {
  // One statement, as parsed: nothing after it could ride along.
  if (!parseOne(sql)) return [];
  const prefix = 'PREPARE runbook_bot_lint AS ';
  try {
    await client.query(`${prefix}${sql}`);
  } catch (err) {
    const position = Number((err as pg.DatabaseError).position);
    // PostgreSQL's cursor: 1-based, in characters of what was sent.
    const at =
      Number.isInteger(position) && position > prefix.length
        ? offset + position - 1 - prefix.length
        : undefined;
    const lineOffset = at === undefined ? undefined : whole.slice(0, at).split('\n').length - 1;
    return preparedError(err as pg.DatabaseError, renamed, names).map((problem) =>
      lineOffset === undefined ? problem : { ...problem, lineOffset },
    );
  }
  await client.query('DEALLOCATE runbook_bot_lint');
  return [];
}

/**
 * Columns of pg_tables and pg_indexes written against the statistics views, which name them
 * otherwise (`pg_stat_user_tables.relname`, `pg_stat_user_indexes.indexrelname`).
 */
const STATS_VIEW_COLUMNS: Record<string, string> = { tablename: 'relname', indexname: 'indexrelname' };

function preparedError(err: pg.DatabaseError, renamed: string[], names: Names): Problem[] {
  const quoted = /"([^"]+)"/.exec(err.message ?? '')?.[1];
  const column = quoted?.split('.').at(-1) ?? '';
  const statsView = names.relations.find((relation) => /^pg_stat(io)?_/.test(relation.name));
  const suggestion = err.hint
    ? err.hint.replace(/\.$/, '')
    : err.code === '42703' && statsView && Object.hasOwn(STATS_VIEW_COLUMNS, column)
      ? `${statsView.name} calls it ${STATS_VIEW_COLUMNS[column]}`
      : undefined;
  switch (err.code) {
    // "could not determine data type of parameter $1": a placeholder with no context to type it.
    case '42P18':
      return [];
    case '42703': {
      // A renamed pg_stat_statements column is reported with its new name already.
      if (renamed.includes(column)) return [];
      const template = looksLikeTemplateName(column);
      return [
        {
          severity: 'error',
          rule: template ? 'template-identifier' : 'unknown-column',
          name: column,
          message: `${err.message}${template ? `; "${column}" reads as a template's stand-in, not a real name` : ''}`,
          suggestion,
        },
      ];
    }
    case '42883':
      return [
        {
          severity: 'error',
          rule: 'unknown-function',
          name: /function ([\w.]+)\(/.exec(err.message)?.[1],
          message: err.message,
          suggestion,
        },
      ];
    case '42P01':
      return [{ severity: 'error', rule: 'unknown-table', name: quoted, message: err.message, suggestion }];
    case '42501':
      return [
        {
          severity: 'warning',
          rule: 'does-not-resolve',
          message: `${err.message}: the target's read role could not resolve this statement`,
          suggestion: 'grant the read role access, or lint with a target whose role can see these objects',
        },
      ];
    default:
      return [
        { severity: 'error', rule: 'does-not-resolve', name: quoted, message: err.message, suggestion },
      ];
  }
}

/**
 * Columns checked without PREPARE (a statement calling the target's own functions, or a
 * utility statement): `alias.column` where the alias is a table of the statement, a bare
 * column when the statement reads exactly one table, and index columns.
 */
async function columnsByCatalog(
  client: pg.ClientBase,
  tree: Record<string, unknown>,
  names: Names,
  relationOids: Map<string, number>,
): Promise<Problem[]> {
  const wanted: Array<{ relation: QualifiedName; column: string }> = [];
  const outputNames = new Set<string>();
  let nested = false;
  for (const [type, body] of walk(tree)) {
    if (type === 'ResTarget' && typeof body.name === 'string') outputNames.add(body.name);
    if (
      type === 'RangeSubselect' ||
      type === 'SubLink' ||
      type === 'CommonTableExpr' ||
      type === 'RangeFunction'
    )
      nested = true;
  }
  const single = names.relations.length === 1 && !nested ? names.relations[0] : undefined;
  for (const [type, body] of walk(tree)) {
    if (type === 'ColumnRef') {
      const fields = body.fields as unknown[];
      if (fields.some((field) => (field as { A_Star?: unknown }).A_Star !== undefined)) continue;
      const parts = strings(fields);
      if (parts.length === 2 && names.aliases.has(parts[0]!))
        wanted.push({ relation: names.aliases.get(parts[0]!)!, column: parts[1]! });
      // A bare table name or alias is the whole row (`SELECT t FROM t`), not a column.
      else if (parts.length === 1 && single && !outputNames.has(parts[0]!) && !names.aliases.has(parts[0]!))
        wanted.push({ relation: single, column: parts[0]! });
    } else if (type === 'IndexElem' && typeof body.name === 'string' && names.relations[0])
      wanted.push({ relation: names.relations[0], column: body.name });
  }
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const { relation, column } of wanted) {
    const oid = relationOids.get(display(relation));
    const key = `${display(relation)}.${column}`;
    if (oid === undefined || seen.has(key)) continue;
    seen.add(key);
    const { rows } = await client.query<{ name: string }>(
      // System columns (ctid, xmin) included: they can be selected too.
      'SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::oid AND NOT attisdropped',
      [oid],
    );
    const columns = rows.map((row) => row.name);
    if (columns.includes(column)) continue;
    const template = looksLikeTemplateName(column);
    const nearest = closestNames(column, columns);
    problems.push({
      severity: 'error',
      rule: template ? 'template-identifier' : 'unknown-column',
      name: column,
      message: `column ${column} does not exist in ${display(relation)}${template ? `; "${column}" reads as a template's stand-in, not a real name` : ''}`,
      suggestion: nearest.length > 0 ? `did you mean ${nearest.join(', ')}?` : undefined,
    });
  }
  return problems;
}
