import { strings, walk } from './ast.js';

/** The names a statement refers to, as lint --target looks them up in the catalog. */
export interface QualifiedName {
  schema?: string;
  name: string;
}

export const display = (name: QualifiedName) => (name.schema ? `${name.schema}.${name.name}` : name.name);

/** Statements PostgreSQL can PREPARE: parse analysis resolves every column and call. */
export const PREPARABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Statements whose own RangeVar names what they create: it need not exist yet. */
const CREATES = new Set([
  'CreateStmt',
  'CreateSeqStmt',
  'ViewStmt',
  'CreateTableAsStmt',
  'CompositeTypeStmt',
]);

const DROPPED_RELATIONS = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_INDEX',
  'OBJECT_SEQUENCE',
  'OBJECT_FOREIGN_TABLE',
]);

const ON_TABLE = new Set(['OBJECT_TRIGGER', 'OBJECT_POLICY', 'OBJECT_RULE']);

export interface Names {
  relations: Array<QualifiedName & { ifExists: boolean; kind: string }>;
  functions: Array<QualifiedName & { ifExists: boolean }>;
  /** Triggers, policies and rules named on a table. */
  onTable: Array<{ kind: string; name: string; table: QualifiedName; ifExists: boolean }>;
  /** `alias` → the relation it stands for. */
  aliases: Map<string, QualifiedName>;
}

/** The objects a statement names, as the parser folded them. */
export function namesIn(tree: Record<string, unknown>): Names {
  const names: Names = { relations: [], functions: [], onTable: [], aliases: new Map() };
  const [top] = Object.keys(tree);
  const topBody = (top ? tree[top] : {}) as Record<string, unknown>;
  const created = CREATES.has(top ?? '')
    ? ((topBody.relation ?? topBody.view ?? (topBody.into as { rel?: unknown } | undefined)?.rel) as unknown)
    : undefined;
  const ctes = new Set<string>();
  for (const [type, body] of walk(tree))
    if (type === 'CommonTableExpr' && typeof body.ctename === 'string') ctes.add(body.ctename);
  const createdName = created as { schemaname?: string; relname?: string } | undefined;
  for (const body of rangeVars(tree)) {
    // Nor does a table referring to itself (`REFERENCES` its own key) while being created.
    if (
      body === created ||
      (body.relname === createdName?.relname && body.schemaname === createdName.schemaname)
    )
      continue;
    const schema = typeof body.schemaname === 'string' ? body.schemaname : undefined;
    if (!schema && ctes.has(body.relname)) continue;
    const relation = { schema, name: body.relname };
    const kind =
      top === 'ReindexStmt' && body === topBody.relation && topBody.kind === 'REINDEX_OBJECT_INDEX'
        ? 'index'
        : 'table';
    // `ALTER TABLE IF EXISTS t`: a missing t is skipped, as a DROP … IF EXISTS would skip it.
    const ifExists = body === topBody.relation && topBody.missing_ok === true;
    names.relations.push({ ...relation, ifExists, kind });
    const alias = (body.alias as { aliasname?: string } | undefined)?.aliasname;
    names.aliases.set(alias ?? body.relname, relation);
  }
  for (const [type, body] of walk(tree)) {
    // EXTRACT, TRIM, OVERLAY, AT TIME ZONE…: SQL syntax the parser names after the function
    // the newest PostgreSQL implements it with; older servers do it another way.
    if (type === 'FuncCall' && body.funcformat !== 'COERCE_SQL_SYNTAX') {
      names.functions.push({ ...split(strings(body.funcname)), ifExists: false });
    } else if (type === 'CreateTrigStmt') {
      names.functions.push({ ...split(strings(body.funcname)), ifExists: false });
    } else if (
      type === 'AlterTableCmd' &&
      typeof body.name === 'string' &&
      /Trig$/.test(String(body.subtype))
    ) {
      const relation = (topBody.relation ?? {}) as { relname?: string; schemaname?: string };
      if (relation.relname)
        names.onTable.push({
          kind: 'trigger',
          name: body.name,
          table: { schema: relation.schemaname, name: relation.relname },
          ifExists: false,
        });
    }
  }
  if (top === 'DropStmt') {
    const removeType = String(topBody.removeType);
    const ifExists = topBody.missing_ok === true;
    for (const object of (topBody.objects as unknown[]) ?? []) {
      const list = strings((object as { List?: { items?: unknown } }).List?.items);
      if (DROPPED_RELATIONS.has(removeType) && list.length > 0)
        names.relations.push({
          ...split(list),
          ifExists,
          kind: removeType
            .replace('OBJECT_', '')
            .replace('_', ' ')
            .toLowerCase()
            .replace('matview', 'materialized view'),
        });
      else if (ON_TABLE.has(removeType) && list.length >= 2)
        names.onTable.push({
          kind: removeType.replace('OBJECT_', '').toLowerCase(),
          name: list.at(-1)!,
          table: split(list.slice(0, -1)),
          ifExists,
        });
      else if (removeType === 'OBJECT_FUNCTION' || removeType === 'OBJECT_PROCEDURE') {
        const objname = strings(
          (object as { ObjectWithArgs?: { objname?: unknown } }).ObjectWithArgs?.objname,
        );
        if (objname.length > 0) names.functions.push({ ...split(objname), ifExists });
      }
    }
  }
  return names;
}

/**
 * Every RangeVar of a tree. A statement's own target (`UPDATE t`, `VACUUM t`, `ALTER TABLE t`)
 * is a RangeVar stored without its `{ RangeVar: … }` wrapper, so they are found by shape.
 */
function rangeVars(node: unknown, found: Array<Record<string, unknown> & { relname: string }> = []) {
  if (Array.isArray(node)) for (const item of node) rangeVars(item, found);
  else if (node && typeof node === 'object') {
    const body = node as Record<string, unknown>;
    if (typeof body.relname === 'string') found.push(body as Record<string, unknown> & { relname: string });
    for (const value of Object.values(body)) rangeVars(value, found);
  }
  return found;
}

function split(parts: string[]): QualifiedName {
  const name = parts.at(-1) ?? '';
  return parts.length > 1 ? { schema: parts.at(-2), name } : { name };
}

export function dedupe<T extends QualifiedName>(names: T[]): T[] {
  return [...new Map(names.map((name) => [display(name), name])).values()];
}
