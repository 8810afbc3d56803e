import { parseSync, scanSync } from 'libpg-query';
import pg from 'pg';
import { walk } from '../runbooks/sql/ast.js';

/**
 * A DML preview runs the statement in a transaction it rolls back. A user trigger or rule on
 * the tables it touches runs too, and what it does outside the transaction (dblink_exec, a
 * sequence's nextval, a signal, an HTTP call) is not rolled back. So when there are any, the
 * preview does not run the statement: it counts and samples the rows through the equivalent
 * SELECT, and says which triggers and rules it did not fire.
 */

/** A user trigger or rule that the statement would fire, e.g. `trigger items_audit on public.items`. */
export type FiringObject = string;

type Node = Record<string, unknown>;

const DML_TYPES = new Set(['UpdateStmt', 'DeleteStmt', 'InsertStmt', 'MergeStmt']);

/**
 * User triggers (enabled, not internal: foreign keys' own are internal) and non-SELECT rules
 * on every table the statement writes, on the tables foreign keys cascade to from them, and
 * on their partitions.
 */
export async function firingObjects(client: pg.ClientBase, sql: string): Promise<FiringObject[]> {
  const names = writtenRelations(sql);
  if (names.length === 0) return [];
  const { rows } = await client.query<{ kind: string; name: string; relation: string }>(
    `${WRITTEN_CTE}
     SELECT 'trigger' AS kind, t.tgname AS name, t.tgrelid::regclass::text AS relation
       FROM pg_trigger t JOIN written w ON t.tgrelid = w.oid
      WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
     UNION ALL
     SELECT 'rule', r.rulename, r.ev_class::regclass::text
       FROM pg_rewrite r JOIN written w ON r.ev_class = w.oid
      WHERE r.ev_type <> '1' AND r.ev_enabled <> 'D'
     ORDER BY 1, 3, 2`,
    [names.map((name) => name.schema ?? null), names.map((name) => name.name)],
  );
  return rows.map((row) => `${row.kind} ${row.name} on ${row.relation}`);
}

/** An expression PostgreSQL evaluates for the rows a statement writes, and what it belongs to. */
export interface WrittenExpression {
  /** `default of public.items.code`, `check items_code_check on public.items`. */
  label: string;
  /** The expression as PostgreSQL deparses it. */
  sql: string;
}

/**
 * Column defaults (generated columns included), CHECK constraints and the CHECK constraints of
 * columns' domains on the tables the statement writes (and those foreign keys cascade to):
 * each runs for the rows written, inside the rolled-back transaction, so one calling user code
 * can act outside it as a trigger can. A plain `nextval('…'::regclass)` default is left out: a
 * sequence a preview advances is the documented, harmless exception.
 */
export async function writtenExpressions(client: pg.ClientBase, sql: string): Promise<WrittenExpression[]> {
  const names = writtenRelations(sql);
  if (names.length === 0) return [];
  const { rows } = await client.query<WrittenExpression>(
    `${WRITTEN_CTE}
     SELECT 'default of ' || w.oid::regclass::text || '.' || quote_ident(a.attname) AS label,
            pg_get_expr(d.adbin, d.adrelid) AS sql
       FROM written w JOIN pg_attrdef d ON d.adrelid = w.oid
       JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
     UNION ALL
     SELECT 'check ' || quote_ident(c.conname) || ' on ' || w.oid::regclass::text, pg_get_expr(c.conbin, c.conrelid)
       FROM written w JOIN pg_constraint c ON c.conrelid = w.oid AND c.contype = 'c'
     UNION ALL
     SELECT 'check ' || quote_ident(c.conname) || ' of domain ' || c.contypid::regtype::text,
            pg_get_constraintdef(c.oid)
       FROM written w JOIN pg_attribute a ON a.attrelid = w.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_constraint c ON c.contypid = a.atttypid AND c.contype = 'c'`,
    [names.map((name) => name.schema ?? null), names.map((name) => name.name)],
  );
  return rows
    .filter((row) => !/^nextval\('[^']*'::regclass\)$/.test(row.sql))
    .map((row) => ({
      label: row.label,
      // A domain's constraint comes back as `CHECK (…)`; VALUE is its column.
      sql: row.sql.replace(/^CHECK \((.*)\)$/s, '$1').replace(/\bVALUE\b/g, 'NULL'),
    }));
}

/**
 * The tables a statement writes, the tables foreign keys cascade to from them (ON DELETE or
 * UPDATE CASCADE, SET NULL, SET DEFAULT), and their partitions, recursively.
 */
const WRITTEN_CTE = `WITH RECURSIVE written(oid) AS (
       SELECT to_regclass(CASE WHEN schema IS NULL THEN quote_ident(name)
                               ELSE quote_ident(schema) || '.' || quote_ident(name) END)::oid
         FROM unnest($1::text[], $2::text[]) AS wanted(schema, name)
       UNION
       SELECT next.oid FROM written w,
              LATERAL (SELECT c.conrelid FROM pg_constraint c
                        WHERE c.confrelid = w.oid AND c.contype = 'f'
                          AND (c.confdeltype IN ('c', 'n', 'd') OR c.confupdtype IN ('c', 'n', 'd'))
                       UNION ALL
                       SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = w.oid) AS next(oid)
     )`;

function writtenRelations(sql: string): Array<{ schema?: string; name: string }> {
  const parsed = parseSync(sql) as { stmts?: Array<{ stmt: Node }> };
  const found: Array<{ schema?: string; name: string }> = [];
  for (const [type, body] of walk(parsed.stmts ?? [])) {
    if (!DML_TYPES.has(type)) continue;
    const relation = body.relation as { relname?: string; schemaname?: string } | undefined;
    if (relation?.relname) found.push({ schema: relation.schemaname, name: relation.relname });
  }
  return found;
}

export interface EquivalentSelect {
  /** The number of distinct rows the statement would change. */
  countSql: string;
  /** Up to `limit` of those rows, as they are now. */
  sampleSql: string;
}

const CLAUSE_END: Record<string, string[]> = {
  UpdateStmt: ['SET'],
  DeleteStmt: ['USING', 'WHERE', 'RETURNING'],
};

/**
 * `UPDATE t [AS a] SET … [FROM f] [WHERE w]` → `SELECT a.* FROM t [AS a], f WHERE w`;
 * `DELETE FROM t [AS a] [USING u] [WHERE w]` → the same with u. Parameters the SELECT no
 * longer uses (those only in SET) are still declared, so the same values bind.
 * Anything else (INSERT, MERGE, a WITH clause, WHERE CURRENT OF, a view) → undefined.
 */
export function equivalentSelect(
  sql: string,
  valueCount: number,
  limit: number,
): EquivalentSelect | undefined {
  const clauses = dmlClauses(sql);
  if (!clauses) return undefined;
  const { target, joined, condition, reference } = clauses;
  const from = `FROM ${target}${joined ? `, ${joined}` : ''}${condition ? `\nWHERE ${condition}` : ''}`;
  const declared = declareUnused(`SELECT 1 ${from}`, valueCount);
  return {
    countSql: `${declared}SELECT count(*)::int AS n FROM (SELECT DISTINCT ${reference}.tableoid, ${reference}.ctid\n${from}\n) AS rb_rows`,
    sampleSql: `${declared}SELECT ${reference}.*\n${from}\nLIMIT ${limit}`,
  };
}

/** An UPDATE or DELETE cut into its clauses, as the runbook wrote them. */
export interface DmlClauses {
  type: 'UpdateStmt' | 'DeleteStmt';
  /** The parse tree of the statement. */
  body: Record<string, unknown>;
  /** The table written, as written: `ONLY public.orders AS o`. */
  target: string;
  /** How its columns are qualified: the alias, else the table's name, quoted. */
  reference: string;
  /** FROM (UPDATE) or USING (DELETE) list; '' when there is none. */
  joined: string;
  /** The WHERE condition; '' when there is none. */
  condition: string;
  /** The statement up to its WHERE (or RETURNING, or its end): `UPDATE t SET x = 1`. */
  head: string;
}

/**
 * Cut from the statement's own tokens at parenthesis depth 0, so the conditions are exactly
 * the runbook's. Undefined for anything but one UPDATE or DELETE without a WITH clause or
 * WHERE CURRENT OF.
 */
export function dmlClauses(sql: string): DmlClauses | undefined {
  const parsed = parseSync(sql) as { stmts?: Array<{ stmt: Node }> };
  if (parsed.stmts?.length !== 1) return undefined;
  const [type, body] = Object.entries(parsed.stmts[0]!.stmt)[0] as [string, Node];
  const ends = CLAUSE_END[type];
  if (!ends || body.withClause) return undefined;
  if ([...walk(body.whereClause)].some(([nested]) => nested === 'CurrentOfExpr')) return undefined;
  const relation = body.relation as { relname: string; alias?: { aliasname?: string } };
  const reference = pg.escapeIdentifier(relation.alias?.aliasname ?? relation.relname);

  const tokens = topLevelTokens(sql);
  // The scanner's offsets are bytes.
  const bytes = Buffer.from(sql, 'utf8');
  const cut = (start: number, end: number) => bytes.subarray(start, end).toString('utf8').trim();
  const keyword = (word: string, from = 0) => tokens.findIndex((t, i) => i >= from && t.word === word);
  // The target: after UPDATE (or DELETE FROM), up to SET (or USING/WHERE/RETURNING/end).
  const first = type === 'UpdateStmt' ? keyword('UPDATE') : keyword('FROM');
  if (first < 0) return undefined;
  const targetEnd = firstOf(tokens, [...ends, ';'], first + 1);
  const target = cut(tokens[first]!.end, targetEnd < 0 ? bytes.length : tokens[targetEnd]!.start);
  const joinWord = type === 'UpdateStmt' ? 'FROM' : 'USING';
  // `x IS DISTINCT FROM y` in a SET list is not the FROM clause.
  const join = tokens.findIndex(
    (t, i) => i > first && t.word === joinWord && tokens[i - 1]?.word !== 'DISTINCT',
  );
  const where = keyword('WHERE', first + 1);
  const returning = keyword('RETURNING', first + 1);
  const semicolon = keyword(';', first + 1);
  const end =
    returning >= 0 ? tokens[returning]!.start : semicolon >= 0 ? tokens[semicolon]!.start : bytes.length;
  return {
    type: type as DmlClauses['type'],
    body,
    target,
    reference,
    joined: join < 0 ? '' : cut(tokens[join]!.end, where < 0 ? end : tokens[where]!.start),
    condition: where < 0 ? '' : cut(tokens[where]!.end, end),
    head: cut(0, where < 0 ? end : tokens[where]!.start),
  };
}

/** `WITH rb_params AS (SELECT $2::text)`: binds a value the SELECT no longer refers to. */
function declareUnused(sql: string, valueCount: number): string {
  const used = new Set<number>();
  for (const [type, body] of walk(parseSync(sql)))
    if (type === 'ParamRef' && typeof body.number === 'number') used.add(body.number);
  const unused = Array.from({ length: valueCount }, (_, i) => i + 1).filter((n) => !used.has(n));
  return unused.length === 0
    ? ''
    : `WITH rb_params AS (SELECT ${unused.map((n) => `$${n}::text`).join(', ')})\n`;
}

interface Token {
  word: string;
  start: number;
  end: number;
}

/** Keywords and words at parenthesis depth 0, upper-cased. */
function topLevelTokens(sql: string): Token[] {
  let depth = 0;
  const tokens: Token[] = [];
  for (const token of scanSync(sql).tokens) {
    if (token.text === '(' || token.text === '[') depth += 1;
    else if (token.text === ')' || token.text === ']') depth -= 1;
    else if (depth === 0) tokens.push({ word: token.text.toUpperCase(), start: token.start, end: token.end });
  }
  return tokens;
}

function firstOf(tokens: Token[], words: string[], from: number): number {
  return tokens.findIndex((token, i) => i >= from && words.includes(token.word));
}
