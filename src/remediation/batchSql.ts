import pg from 'pg';
import { walk } from '../runbooks/sql/ast.js';
import { hasReturning } from './statementShape.js';
import { type DmlClauses, dmlClauses } from './triggerSafePreview.js';

/**
 * The SQL of one batch of a bounded-batch UPDATE or DELETE: the runbook's statement, kept as
 * written, limited to the next `size` rows in key order after the last key the previous
 * batch reached (keyset). The key only moves forward, so each row is picked at most once,
 * even when the SET leaves it matching the WHERE (`notes = notes || ' [ARCHIVED]'`), where a
 * "repeat until 0 rows" loop would never end.
 */

/** A column of the key batches walk, as the catalog gives it. */
export interface KeyColumn {
  name: string;
  /** `format_type` of the column: what a key value read back as text is cast to. */
  type: string;
}

/** Why a statement cannot be split into batches; undefined when it can. */
export function unbatchableShape(sql: string): string | undefined {
  const clauses = dmlClauses(sql);
  if (!clauses)
    return 'only a single UPDATE or DELETE on one table (no WITH, no WHERE CURRENT OF) runs in batches';
  const { body, joined } = clauses;
  if (joined)
    return `its ${clauses.type === 'UpdateStmt' ? 'FROM' : 'USING'} list joins other tables, so which rows one batch changes is ambiguous`;
  if (hasReturning(body)) return 'it has RETURNING, whose rows would be split across batches';
  return undefined;
}

/** The columns an UPDATE's SET assigns (empty for a DELETE). */
export function assignedColumns(sql: string): string[] {
  const clauses = dmlClauses(sql);
  if (clauses?.type !== 'UpdateStmt') return [];
  const names: string[] = [];
  for (const [type, node] of walk(clauses.body.targetList))
    if (type === 'ResTarget' && typeof node.name === 'string') names.push(node.name);
  return names;
}

/** The table the statement writes, as the parser read it (for the catalog lookup). */
export function writtenTable(sql: string): { schema?: string; name: string; only: boolean } | undefined {
  const relation = dmlClauses(sql)?.body.relation as
    | { relname?: string; schemaname?: string; inh?: boolean }
    | undefined;
  if (!relation?.relname) return undefined;
  // The parse tree leaves a false out: no `inh` is ONLY.
  return { schema: relation.schemaname, name: relation.relname, only: relation.inh !== true };
}

export interface BatchSql {
  /** The first batch: no key reached yet. */
  first: string;
  /** Every later batch: its key values, as text, bind after the statement's own values. */
  next: string;
}

/**
 * One statement per batch that changes at most `size` rows and returns one row: `changed`
 * (rows the statement changed), `picked` (rows the batch picked; fewer than `size` means the
 * walk is over) and `rb_k1…` the last key picked, as text, for the next batch. The rows a batch
 * changes still have to match the WHERE when they are changed, as the whole statement's would.
 * Newlines keep a trailing `--` comment in the runbook's text from swallowing what follows.
 */
export function batchSql(sql: string, key: KeyColumn[], size: number, valueCount: number): BatchSql {
  const clauses = dmlClauses(sql);
  if (!clauses || unbatchableShape(sql) || key.length === 0)
    throw new Error('batchSql: the statement cannot run in batches (check unbatchableShape first)');
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`batchSql: batch size ${size} is not a whole number`);
  return { first: build(clauses, key, size, undefined), next: build(clauses, key, size, valueCount) };
}

function build(clauses: DmlClauses, key: KeyColumn[], size: number, after: number | undefined): string {
  const { reference, target, condition, head } = clauses;
  const columns = key.map((column) => `${reference}.${pg.escapeIdentifier(column.name)}`);
  const picked = key.map((_, i) => `rb_k${i + 1}`);
  const row = (items: string[]) => `(${items.join(', ')})`;
  const matches = condition ? [`(\n${condition}\n)`] : [];
  const beyond =
    after === undefined
      ? []
      : [`${row(columns)} > ${row(key.map((column, i) => `$${after + i + 1}::${column.type}`))}`];
  const pick = [
    `SELECT ${columns.map((column, i) => `${column} AS ${picked[i]}`).join(', ')}`,
    `FROM ${target}`,
    ...(matches.length + beyond.length > 0 ? [`WHERE ${[...matches, ...beyond].join(' AND ')}`] : []),
    `ORDER BY ${columns.join(', ')}`,
    `LIMIT ${size}`,
  ].join('\n');
  const change = [
    head,
    `WHERE ${[...matches, `${row(columns)} IN (SELECT ${picked.join(', ')} FROM rb_batch)`].join(' AND ')}`,
    'RETURNING 1',
  ].join('\n');
  const last = `SELECT ${picked.map((name) => `${name}::text`).join(', ')} FROM rb_batch ORDER BY ${picked
    .map((name) => `${name} DESC`)
    .join(', ')} LIMIT 1`;
  return [
    `WITH rb_batch AS (\n${pick}\n),`,
    `rb_changed AS (\n${change}\n)`,
    `SELECT (SELECT count(*) FROM rb_changed)::int AS changed, (SELECT count(*) FROM rb_batch)::int AS picked, rb_last.*`,
    `FROM (SELECT 1) AS rb_one LEFT JOIN (${last}) AS rb_last ON true`,
  ].join('\n');
}
