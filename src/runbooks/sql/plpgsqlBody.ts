import { parsePlPgSQLSync } from 'libpg-query';
import { walk } from './ast.js';

/** The SQL a PL/pgSQL function runs, as far as its text shows it. */
export interface PlpgsqlSql {
  /** Every statement and expression it evaluates, each as a statement the SQL parser reads. */
  statements: string[];
  /** It builds SQL at run time (EXECUTE, FOR … EXECUTE, OPEN … FOR EXECUTE, RETURN QUERY EXECUTE): unknowable from its text. */
  dynamic: boolean;
}

/** libpg-query's parse modes of a PL/pgSQL expression (PostgreSQL's RawParseMode). */
const PARSE_MODE = { default: 0, typeName: 1, expression: 2, assign1: 3, assign2: 4, assign3: 5 } as const;

/**
 * The SQL inside a PL/pgSQL function, from its full definition (`pg_get_functiondef`): the
 * statements it runs (SELECT … INTO, PERFORM, RETURN QUERY, UPDATE…) and the expressions it
 * evaluates (IF conditions, assignments), each turned into a statement so the same judge
 * that reads a view or a SQL function can read it. Throws when the body does not parse.
 */
export function plpgsqlSql(definition: string): PlpgsqlSql {
  const tree = parsePlPgSQLSync(definition);
  const statements: string[] = [];
  let dynamic = false;
  for (const [type, node] of walk(tree)) {
    // RETURN QUERY EXECUTE and OPEN … FOR EXECUTE carry a `dynquery` too.
    if (/^PLpgSQL_stmt_dyn/.test(type) || ('dynquery' in node && /^PLpgSQL_stmt_/.test(type))) dynamic = true;
    if (type !== 'PLpgSQL_expr') continue;
    const query = String(node.query ?? '');
    const mode = Number(node.parseMode ?? PARSE_MODE.default);
    if (mode === PARSE_MODE.typeName) continue;
    if (mode === PARSE_MODE.expression) statements.push(`SELECT ${query}`);
    // `target := expression`: the target is a variable, the expression is what runs.
    else if (mode >= PARSE_MODE.assign1) statements.push(`SELECT ${query.replace(/^[^:=]*:?=/, '')}`);
    else statements.push(query);
  }
  return { statements, dynamic };
}
