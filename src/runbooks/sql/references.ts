import { parseSync } from 'libpg-query';
import { strings, walk } from './ast.js';

/** Names the statement text refers to, as the parser sees them. */
export interface TextReferences {
  functions: Array<{ schema?: string; name: string }>;
  /**
   * Names after a dot (`t.kill`, `(t).kill`): when the row has no such column, PostgreSQL calls
   * the function `kill(t)` instead (attribute notation), so they count as possible calls.
   */
  attributes: string[];
  /** Types named in explicit casts (`x::t`): a user-defined cast runs a function. */
  castTypes: string[];
  operators: Array<{ schema?: string; name: string }>;
  relations: Array<{ schema?: string; name: string }>;
  /** Statements that are not SELECTs, and data-modifying ones nested anywhere. */
  writes: string[];
}

/** The functions, operators and relations SQL text names, and any statement in it that writes. */
export function references(sql: string): TextReferences {
  const parsed = parseSync(sql) as { stmts?: Array<{ stmt: Record<string, unknown> }> };
  const refs: TextReferences = {
    functions: [],
    attributes: [],
    castTypes: [],
    operators: [],
    relations: [],
    writes: [],
  };
  const ctes = new Set<string>();
  for (const { stmt } of parsed.stmts ?? []) {
    const [type] = Object.keys(stmt);
    // A `BEGIN ATOMIC` function's definition: what matters is its body.
    const readOnlyTop = ['SelectStmt', 'ExplainStmt', 'VariableShowStmt', 'CreateFunctionStmt'];
    if (!type || !readOnlyTop.includes(type)) refs.writes.push(words(type ?? 'a statement'));
    for (const [nodeType, body] of walk(stmt)) {
      if (WRITES.has(nodeType)) refs.writes.push(words(nodeType));
      if (nodeType === 'CommonTableExpr' && typeof body.ctename === 'string') ctes.add(body.ctename);
      if (nodeType === 'FuncCall') {
        // As the parser gives them: unquoted names are folded already, and a quoted "Lower"
        // is another function than lower (lower-casing it would judge the wrong one).
        const parts = strings(body.funcname);
        const name = parts.at(-1) ?? '';
        const schema = parts.length > 1 ? parts.at(-2) : undefined;
        refs.functions.push({ schema, name });
      } else if (nodeType === 'ColumnRef') {
        const parts = strings(body.fields);
        if (parts.length > 1) refs.attributes.push(parts.at(-1)!);
      } else if (nodeType === 'A_Indirection') {
        refs.attributes.push(...strings(body.indirection));
      } else if (nodeType === 'TypeCast') {
        const typeName = (body.typeName as { names?: unknown } | undefined)?.names;
        const parts = strings(typeName);
        // pg_catalog's own casts are PostgreSQL's; only a user type's cast can be user code.
        if (parts.length > 0 && parts[0] !== 'pg_catalog') refs.castTypes.push(parts.join('.'));
      } else if (nodeType === 'A_Expr') {
        const parts = strings(body.name);
        const name = parts.at(-1);
        if (name) refs.operators.push({ schema: parts.length > 1 ? parts.at(-2) : undefined, name });
      } else if (nodeType === 'RangeVar' && typeof body.relname === 'string') {
        const schema = typeof body.schemaname === 'string' ? body.schemaname : undefined;
        refs.relations.push({ schema, name: body.relname });
      }
    }
  }
  // A WITH query's name is not a relation (unless qualified).
  refs.relations = refs.relations.filter((relation) => relation.schema || !ctes.has(relation.name));
  refs.functions = unique(refs.functions, (fn) => `${fn.schema ?? ''}.${fn.name}`);
  refs.relations = unique(refs.relations, (relation) => `${relation.schema ?? ''}.${relation.name}`);
  refs.operators = unique(refs.operators, (op) => `${op.schema ?? ''}.${op.name}`);
  refs.attributes = [...new Set(refs.attributes)];
  refs.castTypes = [...new Set(refs.castTypes)];
  return refs;
}

const WRITES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** `InsertStmt` → `INSERT`, `CreateFunctionStmt` → `CREATE FUNCTION`. */
function words(type: string): string {
  return type
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();
}

function unique<T>(items: T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()];
}
