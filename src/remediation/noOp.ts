import { parseSync } from 'libpg-query';
import type pg from 'pg';
import { strings } from '../runbooks/sql/ast.js';

/**
 * Whether a DDL statement written with IF EXISTS / IF NOT EXISTS would do nothing on the
 * target, decided from its catalog without running it: `DROP TRIGGER IF EXISTS x ON t`
 * where t has no trigger x (or there is no t), `DROP INDEX IF EXISTS` of a missing index,
 * `ALTER TABLE IF EXISTS` of a missing table, `CREATE INDEX IF NOT EXISTS` of an index that
 * is there. Postgres would answer such a statement with a NOTICE ("skipping") and report
 * success; the plan says "nothing to do" instead.
 */
export interface NoOpFinding {
  /** Every object is missing (or already there): the statement would do nothing. */
  nothingToDo?: string;
  /** Some of several objects are missing: what the statement would skip. */
  skipped?: string[];
}

type Node = Record<string, unknown>;

/** `"schema"."name"`: parts as the parser gave them (unquoted names already folded). */
function qualified(parts: string[]): string {
  return parts.map((part) => `"${part.replaceAll('"', '""')}"`).join('.');
}

const RELATIONS: Record<string, string> = {
  OBJECT_TABLE: 'table',
  OBJECT_INDEX: 'index',
  OBJECT_VIEW: 'view',
  OBJECT_MATVIEW: 'materialized view',
  OBJECT_SEQUENCE: 'sequence',
  OBJECT_FOREIGN_TABLE: 'foreign table',
};

/** Objects attached to a table: the table's name, then the object's. */
const ON_TABLE: Record<string, { what: string; sql: string }> = {
  OBJECT_TRIGGER: {
    what: 'trigger',
    sql: 'SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2) AS present',
  },
  OBJECT_POLICY: {
    what: 'policy',
    sql: 'SELECT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = to_regclass($1) AND polname = $2) AS present',
  },
  OBJECT_RULE: {
    what: 'rule',
    sql: 'SELECT EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = to_regclass($1) AND rulename = $2) AS present',
  },
};

interface Probe {
  /** How the object is named to people: `trigger x on t`. */
  label: string;
  sql: string;
  args: string[];
}

async function present(client: pg.PoolClient, probe: Probe): Promise<boolean> {
  const { rows } = await client.query<{ present: boolean }>(probe.sql, probe.args);
  return rows[0]?.present === true;
}

const REGCLASS = 'SELECT to_regclass($1) IS NOT NULL AS present';

/** `a.b` in a DROP's object list: a List of Strings, or one String (schemas, extensions). */
function objectParts(object: Node): string[] {
  const list = (object as { List?: { items?: unknown } }).List;
  if (list) return strings(list.items);
  const single = (object as { String?: { sval?: string } }).String?.sval;
  return single === undefined ? [] : [single];
}

/** What each object of a `DROP … IF EXISTS` is, and how to look it up; undefined when not modelled. */
function dropProbes(body: Node): Probe[] | undefined {
  const type = String(body.removeType);
  const objects = Array.isArray(body.objects) ? (body.objects as Node[]) : [];
  const probes: Probe[] = [];
  for (const object of objects) {
    const parts = objectParts(object);
    const relation = RELATIONS[type];
    const attached = ON_TABLE[type];
    if (
      (relation || attached || type === 'OBJECT_SCHEMA' || type === 'OBJECT_EXTENSION') &&
      parts.length === 0
    )
      return undefined;
    if (relation)
      probes.push({ label: `${relation} ${parts.join('.')}`, sql: REGCLASS, args: [qualified(parts)] });
    else if (attached) {
      const name = parts.at(-1)!;
      const table = parts.slice(0, -1);
      probes.push({
        label: `${attached.what} ${name} on ${table.join('.')}`,
        sql: attached.sql,
        args: [qualified(table), name],
      });
    } else if (type === 'OBJECT_SCHEMA')
      probes.push({
        label: `schema ${parts[0]}`,
        sql: 'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present',
        args: [parts[0]!],
      });
    else if (type === 'OBJECT_EXTENSION')
      probes.push({
        label: `extension ${parts[0]}`,
        sql: 'SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = $1) AS present',
        args: [parts[0]!],
      });
    else if (type === 'OBJECT_FUNCTION' || type === 'OBJECT_PROCEDURE' || type === 'OBJECT_ROUTINE') {
      // Any overload of the name counts as present: only a name with none is surely missing.
      const name = strings((object as { ObjectWithArgs?: { objname?: unknown } }).ObjectWithArgs?.objname);
      if (name.length === 0) return undefined;
      const fn = name.at(-1)!;
      const schema = name.length > 1 ? name.at(-2)! : null;
      probes.push({
        label: `function ${name.join('.')}`,
        sql: `SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE p.proname = $1 AND (CASE WHEN $2::text IS NULL THEN pg_function_is_visible(p.oid) ELSE n.nspname = $2 END)) AS present`,
        args: [fn, schema as string],
      });
    } else return undefined;
  }
  return probes;
}

/** Relation named by a RangeVar, as `"schema"."name"`. */
function rangeVar(relation: unknown): string[] {
  const node = relation as { schemaname?: string; relname?: string } | undefined;
  return [node?.schemaname, node?.relname].filter((part): part is string => Boolean(part));
}

/**
 * Looks the statement's objects up in the target's catalog; an empty finding when it is
 * not such a statement or its objects are not ones this module knows how to look up.
 */
export async function findNoOp(client: pg.PoolClient, sql: string): Promise<NoOpFinding> {
  const parsed = parseSync(sql) as { stmts?: Array<{ stmt: Node }> };
  const stmt = parsed.stmts?.[0]?.stmt;
  if (!stmt || parsed.stmts!.length !== 1) return {};
  const [type, body] = Object.entries(stmt)[0] as [string, Node];
  if (type === 'DropStmt' && body.missing_ok) {
    const probes = dropProbes(body);
    if (!probes || probes.length === 0) return {};
    const missing: string[] = [];
    for (const probe of probes) if (!(await present(client, probe))) missing.push(probe.label);
    if (missing.length === probes.length)
      return { nothingToDo: `${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist` };
    return missing.length > 0 ? { skipped: missing } : {};
  }
  if (type === 'AlterTableStmt' && body.missing_ok) {
    const table = rangeVar(body.relation);
    if (table.length === 0) return {};
    if (!(await present(client, { label: '', sql: REGCLASS, args: [qualified(table)] })))
      return { nothingToDo: `${table.join('.')} does not exist` };
    return {};
  }
  if ((type === 'IndexStmt' || type === 'CreateStmt') && body.if_not_exists) {
    // An index is created in its table's schema; a table in the first schema of the search_path.
    const relation = rangeVar(body.relation);
    const name =
      type === 'IndexStmt'
        ? typeof body.idxname === 'string'
          ? [...relation.slice(0, -1), body.idxname]
          : undefined
        : relation;
    if (!name || name.length === 0) return {};
    if (type === 'IndexStmt' && relation.length === 1) {
      // Unqualified: the index goes where the table is.
      const { rows } = await client.query<{ present: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_class t JOIN pg_class i ON i.relnamespace = t.relnamespace
           WHERE t.oid = to_regclass($1) AND i.relname = $2) AS present`,
        [qualified(relation), name.at(-1)],
      );
      return rows[0]?.present ? { nothingToDo: `${name.at(-1)} already exists` } : {};
    }
    if (await present(client, { label: '', sql: REGCLASS, args: [qualified(name)] }))
      return { nothingToDo: `${name.join('.')} already exists` };
  }
  return {};
}
