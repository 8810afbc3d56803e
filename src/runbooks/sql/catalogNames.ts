import type pg from 'pg';
import { closestNames, editDistance } from '../../text.js';
import { dedupe, display, type Names, type QualifiedName } from './statementNames.js';

/**
 * The relations, functions and table-attached objects (triggers, policies, rules) a statement
 * names, looked up in a target's catalog without running anything. `lint --target` reports
 * what is missing as findings; a preview refuses to offer a statement that names one.
 */

/** A name the statement uses that the target's catalog does not have. */
export interface MissingName {
  /** `table`, `index`, `view`…, `function`, `trigger`, `policy` or `rule`. */
  kind: string;
  name: QualifiedName;
  /** Named by `DROP … IF EXISTS`: the statement runs and skips it. */
  ifExists: boolean;
  /** For a trigger, policy or rule: the table it was looked for on. */
  on?: QualifiedName;
  /** Names of that kind the target has, for "did you mean". */
  candidates: string[];
}

export interface NameLookup {
  missing: MissingName[];
  /** The relations found, by their name as written. */
  relationOids: Map<string, number>;
  /** It calls a function of the target's own (not PostgreSQL's, not an extension's). */
  userFunctions: boolean;
}

export async function lookUpNames(
  client: pg.ClientBase,
  names: Names,
  catalog: CatalogNames,
): Promise<NameLookup> {
  const missing: MissingName[] = [];
  const relations = dedupe([
    ...names.relations,
    ...names.onTable.map((object) => ({ ...object.table, ifExists: object.ifExists, kind: 'table' })),
  ]);
  const relationOids = new Map<string, number>();
  if (relations.length > 0) {
    const { rows } = await client.query<{ oid: number | null }>(
      `SELECT to_regclass(CASE WHEN schema IS NULL THEN quote_ident(name)
                               ELSE quote_ident(schema) || '.' || quote_ident(name) END)::oid::int AS oid
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS wanted(schema, name, n) ORDER BY n`,
      [relations.map((name) => name.schema ?? null), relations.map((name) => name.name)],
    );
    for (const [i, relation] of relations.entries()) {
      const oid = rows[i]?.oid ?? null;
      if (oid !== null) relationOids.set(display(relation), oid);
      else
        missing.push({
          kind: relation.kind,
          name: relation,
          ifExists: relation.ifExists,
          candidates: await catalog.relations(client),
        });
    }
  }

  const functions = dedupe(names.functions);
  let userFunctions = false;
  if (functions.length > 0) {
    const { rows } = await client.query<{ found: boolean; user: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE p.proname = wanted.name
                         AND CASE WHEN wanted.schema IS NULL THEN pg_function_is_visible(p.oid)
                                  ELSE n.nspname = wanted.schema END) AS found,
              EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE p.proname = wanted.name AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                            AND d.objid = p.oid AND d.deptype = 'e')) AS user
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS wanted(schema, name, n) ORDER BY n`,
      [functions.map((name) => name.schema ?? null), functions.map((name) => name.name)],
    );
    for (const [i, fn] of functions.entries()) {
      if (rows[i]?.user) userFunctions = true;
      if (!rows[i]?.found)
        missing.push({
          kind: 'function',
          name: fn,
          ifExists: fn.ifExists,
          candidates: await catalog.functions(client),
        });
    }
  }

  for (const object of names.onTable) {
    const table = relationOids.get(display(object.table));
    // A table that does not exist is reported already.
    if (table === undefined) continue;
    const { rows } = await client.query<{ name: string }>(
      object.kind === 'trigger'
        ? 'SELECT tgname AS name FROM pg_trigger WHERE tgrelid = $1::oid AND NOT tgisinternal'
        : object.kind === 'policy'
          ? 'SELECT polname AS name FROM pg_policy WHERE polrelid = $1::oid'
          : 'SELECT rulename AS name FROM pg_rewrite WHERE ev_class = $1::oid',
      [table],
    );
    const existing = rows.map((row) => row.name);
    if (!existing.includes(object.name))
      missing.push({
        kind: object.kind,
        name: { name: object.name },
        ifExists: object.ifExists,
        on: object.table,
        candidates: existing,
      });
  }
  return { missing, relationOids, userFunctions };
}

/** The names near the missing one, for "did you mean" (never the missing name itself). */
export function nearestTo(missing: MissingName): string[] {
  const shown = display(missing.name);
  return closestNames(missing.name.name, missing.candidates).filter((candidate) => candidate !== shown);
}

/** The target's relation and function names, read once, for "did you mean". */
export class CatalogNames {
  private relationNames?: string[];
  private functionNames?: string[];

  async relations(client: pg.ClientBase): Promise<string[]> {
    this.relationNames ??= (
      await client.query<{ name: string }>(
        `SELECT CASE WHEN pg_table_is_visible(c.oid) THEN c.relname ELSE n.nspname || '.' || c.relname END AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
            AND n.nspname NOT IN ('information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'
          LIMIT 20000`,
      )
    ).rows.map((row) => row.name);
    return this.relationNames;
  }

  async functions(client: pg.ClientBase): Promise<string[]> {
    this.functionNames ??= (
      await client.query<{ name: string }>(
        `SELECT DISTINCT p.proname AS name FROM pg_proc p WHERE pg_function_is_visible(p.oid) LIMIT 20000`,
      )
    ).rows.map((row) => row.name);
    return this.functionNames;
  }
}

// A catalog's names are offered as a typo's corrections the way every other name is.
export { closestNames, editDistance };

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
