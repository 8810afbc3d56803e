import pg from 'pg';
import {
  type IdentifierKind,
  identifierSentinel,
  type NameRef,
  type Parameter,
  type Statement,
} from './model.js';
import type { RawValues } from './procedureParams.js';
import { editDistance } from './sql/catalogNames.js';
import { identifierParts } from './sql/placeholders.js';

/** What the catalog is read through: a pool or a connection of the target. */
export interface CatalogReader {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export type Resolution = { ok: true; statement: Statement } | { ok: false; problems: string[] };

/**
 * A statement's identifier parameters filled in: each value is looked up in the target's
 * catalog (the table, index, trigger, schema or role must exist; a close name is suggested
 * when it does not), then quoted as `format('%I')` quotes, part by part, and spliced where its
 * placeholder stood. The statement that comes back is what runs and what a plan shows and
 * hashes. A value is never spliced before it has been found in the catalog (a name the
 * statement creates only has to be a valid name).
 */
export async function resolveIdentifiers(
  db: CatalogReader,
  statement: Statement,
  raw: RawValues,
): Promise<Resolution> {
  const identifiers = statement.identifiers ?? [];
  if (identifiers.length === 0) return { ok: true, statement };
  const problems: string[] = [];
  const spliced = new Map<string, string>();
  for (const param of identifiers) {
    const outcome = await resolveOne(db, param, raw);
    if (typeof outcome === 'string') problems.push(outcome);
    else spliced.set(param.name, outcome.quoted);
  }
  if (problems.length > 0) return { ok: false, problems };
  let sql = statement.sql;
  for (const [name, quoted] of spliced)
    sql = sql.replace(new RegExp(`\\b${identifierSentinel(name)}\\b`, 'g'), () => quoted);
  const { identifiers: _spliced, ...rest } = statement;
  return { ok: true, statement: { ...rest, sql } };
}

const RELATION_KINDS: Record<'table' | 'index', string[]> = {
  table: ['r', 'p', 'v', 'm', 'f', 'S'],
  index: ['i', 'I'],
};

const NOUNS: Record<IdentifierKind, string> = {
  table: 'table',
  index: 'index',
  trigger: 'trigger',
  schema: 'schema',
  role: 'role',
  name: 'name',
};

async function resolveOne(
  db: CatalogReader,
  param: Parameter,
  raw: RawValues,
): Promise<{ quoted: string } | string> {
  const kind = param.identifier?.kind ?? 'name';
  const noun = NOUNS[kind];
  const given = raw[param.name]?.trim();
  const usage = `${param.name}=${param.example}`;
  if (!given)
    return `${param.name} is missing: a ${noun} name (written ${param.placeholder} in the runbook), e.g. ${usage}`;
  const parts = identifierParts(given);
  if (!parts || parts.length > 2)
    return `${param.name} must be a ${noun} name, e.g. ${usage} ("Quoted Name" keeps case and spaces; got "${given.slice(0, 60)}")`;
  const written = param.identifier?.schema;
  const fixedSchema = single(written, raw);
  if (parts.length === 2 && (written || (kind !== 'table' && kind !== 'index')))
    return written
      ? `${param.name} takes the name alone: the runbook already writes its schema (${written && 'text' in written ? written.text : `<${written.param}>`}.${param.placeholder}); got "${given}"`
      : `${param.name} must be a ${noun} name without a schema, e.g. ${usage}; got "${given}"`;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  const schema = parts.length === 2 ? parts[0] : fixedSchema;
  const shown = schema ? `${schema}.${name}` : name;
  const quoted = parts.map((part) => pg.escapeIdentifier(part)).join('.');
  if (kind === 'name') return { quoted };
  const table = kind === 'trigger' ? triggerTable(param, raw) : undefined;
  if (await exists(db, kind, name, schema, table)) return { quoted };
  const close = nearest(name, await candidates(db, kind, schema, table));
  const hint = close.length > 0 ? ` Did you mean ${close.join(', ')}?` : '';
  const where = table ? ` on table ${table.schema ? `${table.schema}.` : ''}${table.name}` : '';
  return `${param.name}: no ${noun} ${shown}${where} on this target.${hint} Give ${param.name}=<an existing ${noun}${where}> (names are matched exactly, as format('%I') quotes them)`;
}

/** A name the statement writes, or another parameter's value when it is one plain or quoted name. */
function single(ref: NameRef | undefined, raw: RawValues): string | undefined {
  if (!ref) return undefined;
  if ('text' in ref) return ref.text;
  const parts = identifierParts(raw[ref.param]?.trim() ?? '');
  return parts?.length === 1 ? parts[0] : undefined;
}

/**
 * The table a trigger must be on (`DROP TRIGGER <t> ON <schema>.<table>`), by its catalog
 * name; undefined when the statement names none or its value is not a name (the table's
 * own parameter says what is wrong with it).
 */
function triggerTable(param: Parameter, raw: RawValues): TableName | undefined {
  const on = param.identifier?.on;
  if (!on) return undefined;
  if ('text' in on.table) return { name: on.table.text, schema: single(on.schema, raw) };
  const parts = identifierParts(raw[on.table.param]?.trim() ?? '');
  if (!parts || parts.length > 2) return undefined;
  return parts.length === 2
    ? { schema: parts[0], name: parts[1]! }
    : { name: parts[0]!, schema: single(on.schema, raw) };
}

interface TableName {
  name: string;
  /** Absent: the table the search path finds. */
  schema?: string | undefined;
}

async function exists(
  db: CatalogReader,
  kind: IdentifierKind,
  name: string,
  schema?: string,
  table?: TableName,
): Promise<boolean> {
  switch (kind) {
    case 'table':
    case 'index': {
      const found = await db.query(
        `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relname = $1 AND c.relkind::text = ANY($2::text[])
            AND (CASE WHEN $3::text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid) ELSE n.nspname = $3 END)`,
        [name, RELATION_KINDS[kind], schema ?? null],
      );
      return found.rows.length > 0;
    }
    case 'trigger':
      return (await triggers(db, table, name)).length > 0;
    case 'schema':
      return (
        (await db.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [name])).rows.length > 0
      );
    case 'role':
      return (await db.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [name])).rows.length > 0;
    case 'name':
      return true;
  }
}

/** Names of that kind on the target, for a suggestion: user objects only. */
async function candidates(
  db: CatalogReader,
  kind: IdentifierKind,
  schema?: string,
  table?: TableName,
): Promise<string[]> {
  const userSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'`;
  let sql: string;
  let values: unknown[] = [];
  switch (kind) {
    case 'table':
    case 'index':
      sql = `SELECT CASE WHEN $2::text IS NULL AND NOT pg_catalog.pg_table_is_visible(c.oid) THEN n.nspname || '.' ELSE '' END || c.relname AS name
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind::text = ANY($1::text[]) AND ${userSchemas} AND ($2::text IS NULL OR n.nspname = $2)
              LIMIT 5000`;
      values = [RELATION_KINDS[kind], schema ?? null];
      break;
    case 'trigger':
      return triggers(db, table);
    case 'schema':
      sql = `SELECT nspname AS name FROM pg_catalog.pg_namespace n WHERE ${userSchemas}`;
      break;
    case 'role':
      sql = `SELECT rolname AS name FROM pg_catalog.pg_roles WHERE rolname NOT LIKE 'pg\\_%' LIMIT 5000`;
      break;
    case 'name':
      return [];
  }
  const found = await db.query<{ name: string }>(sql, values);
  return found.rows.map((row) => row.name);
}

/**
 * User triggers by name (`name`: that one only), on `table` when given (by catalog names:
 * "Orders" in schema "my-schema" is relname Orders, nspname my-schema), else anywhere.
 */
async function triggers(db: CatalogReader, table: TableName | undefined, name?: string): Promise<string[]> {
  const found = await db.query<{ name: string }>(
    `SELECT DISTINCT t.tgname AS name
       FROM pg_catalog.pg_trigger t
       JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT t.tgisinternal
        AND ($1::text IS NULL OR t.tgname = $1)
        AND ($2::text IS NULL OR (c.relname = $2 AND
             CASE WHEN $3::text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid) ELSE n.nspname = $3 END))
      LIMIT 5000`,
    [name ?? null, table?.name ?? null, table?.schema ?? null],
  );
  return found.rows.map((row) => row.name);
}

/** Up to three names within a few edits of `name` (case ignored), closest first. */
export function nearest(name: string, names: string[]): string[] {
  const wanted = name.toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return names
    .map((candidate) => ({ candidate, distance: editDistance(wanted, bare(candidate).toLowerCase()) }))
    .filter(({ distance }) => distance <= limit)
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, 3)
    .map(({ candidate }) => candidate);
}

function bare(qualified: string): string {
  return qualified.slice(qualified.lastIndexOf('.') + 1);
}
