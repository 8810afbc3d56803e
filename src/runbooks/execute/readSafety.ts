import type pg from 'pg';
import type { Risk } from '../model.js';
import { loadSqlParser } from '../sql/analyzeSqlBlock.js';
import { plpgsqlSql } from '../sql/plpgsqlBody.js';
import { knownEffect, READ_SAFE_FUNCTIONS } from '../sql/readSafeFunctions.js';
import { references, type TextReferences } from '../sql/references.js';

/**
 * Whether a statement the classifier called a Check is read-only on *this* target, judged
 * from the target's catalog rather than the statement's text (DESIGN.md principle 8): a view
 * can call pg_terminate_backend, a user `lower(integer)` can shadow pg_catalog's `lower` for
 * an integer argument, a row-level security policy can call anything, and `BEGIN READ ONLY`
 * stops none of signals, `pg_reload_conf`, `set_config`, `pg_notify`, advisory locks or dblink.
 *
 * Nothing here plans or runs the statement: the planner evaluates IMMUTABLE functions on
 * constants while planning, so even `EXPLAIN` (without ANALYZE) could run a user function
 * that lies about its volatility. Instead every function the statement can reach is found
 * in the catalog and judged:
 * - named in the text: every overload of that name the session can see (a user
 *   `public.lower(integer)` counts even though `lower('x')` would pick pg_catalog's);
 * - through a user view (recursively) or a row-level security policy: its definition as
 *   PostgreSQL deparses it for this session (`pg_get_viewdef`, `pg_get_expr`, which qualify
 *   any name the search_path would not find), judged the same way. pg_depend is no help:
 *   it records no dependency on built-in functions, pg_terminate_backend included;
 * - inside a user SQL function: its body, the same way (a view or a body that writes is refused).
 * Operators outside pg_catalog count as the functions behind them; foreign tables as an
 * escape hatch (they read another server through a wrapper).
 * A function is read-safe when it is not a known escape hatch and is either on the allowlist
 * or declared STABLE/IMMUTABLE, where a user-defined function must also be SQL or PL/pgSQL
 * whose body is read-safe (a STABLE plpgsql function can still call pg_terminate_backend) and
 * builds no SQL at run time. Functions the
 * runbook's author vouched for (`readonly=`) are taken at their word, as the classifier does.
 */
export type ReadSafety = { safe: true } | { safe: false; reasons: string[]; risk: Risk };

/** System catalogs and views are PostgreSQL's own: reading them runs nothing of the target's. */
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

/** Objects looked at before giving up and calling the statement an action: a bound on the work. */
const MAX_OBJECTS = 2000;

const RISK_ORDER: Record<Risk, number> = { low: 0, medium: 1, high: 2 };

export interface FunctionRow {
  oid: number;
  schema: string;
  name: string;
  args: string;
  volatility: 'i' | 's' | 'v';
  language: string;
  source: string | null;
  atomic: boolean;
  extension: boolean;
  /** SECURITY DEFINER: it runs as `owner`. */
  definer: boolean;
  owner: string;
  /** The session's role has the owner's rights (is it, or a member of it). */
  ownerRights: boolean;
}

interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  kind: string;
  rls: boolean;
}

/** How a thing to look at was reached, for the reason shown to people. */
export interface Pending {
  via: string;
}

export async function readSafety(
  client: pg.ClientBase,
  sql: string,
  vouched: ReadonlySet<string> = new Set(),
  options: {
    dml?: boolean;
    /** Functions the statement names that must exist here for it to count as read-safe (the catalog cannot vouch for what it lacks). */
    mustExist?: readonly string[];
  } = {},
): Promise<ReadSafety> {
  await loadSqlParser();
  const judge = new Judge(client, vouched);
  if (options.mustExist?.length) await judge.existing(options.mustExist);
  // For a DML preview the statement's own write is the point; what it calls must still be harmless.
  await judge.text(sql, '', options.dml === true);
  return judge.verdict();
}

/**
 * Functions a Check's statement calls that the classifier accepted only because the runbook's
 * author vouched for them: those on neither the allowlist nor the list of known effects.
 */
export function vouchedFunctions(functions: readonly string[]): Set<string> {
  return new Set(functions.filter((name) => !READ_SAFE_FUNCTIONS.has(name) && !knownEffect(name)));
}

/** Judges what a statement reaches; a trial (remediation/trialSafety.ts) judges it by other rules. */
export class Judge {
  protected readonly reasons: string[] = [];
  private risk: Risk = 'low';
  private readonly seenFunctions = new Set<number>();
  private readonly seenRelations = new Set<number>();

  constructor(
    protected readonly client: pg.ClientBase,
    private readonly vouched: ReadonlySet<string>,
  ) {}

  verdict(): ReadSafety {
    return this.reasons.length === 0
      ? { safe: true }
      : { safe: false, reasons: this.reasons, risk: this.risk };
  }

  protected unsafe(reason: string, risk: Risk): void {
    if (!this.reasons.includes(reason)) this.reasons.push(reason);
    if (RISK_ORDER[risk] > RISK_ORDER[this.risk]) this.risk = risk;
  }

  private tooMuch(): boolean {
    if (this.seenFunctions.size + this.seenRelations.size <= MAX_OBJECTS) return false;
    this.unsafe(`reaches more than ${MAX_OBJECTS} views and functions; too many to check`, 'medium');
    return true;
  }

  /** Functions named (`name` or `schema.name`) that this session cannot call: each one a reason. */
  async existing(names: readonly string[]): Promise<void> {
    const parts = names.map((name) => {
      const dot = name.lastIndexOf('.');
      return dot < 0 ? { schema: null, name } : { schema: name.slice(0, dot), name: name.slice(dot + 1) };
    });
    const { rows } = await this.client.query<{ name: string }>(
      `SELECT wanted.shown AS name
         FROM unnest($1::text[], $2::text[], $3::text[]) AS wanted(schema, name, shown)
        WHERE NOT EXISTS (
          SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.proname = wanted.name
             AND CASE WHEN wanted.schema IS NULL THEN pg_function_is_visible(p.oid)
                      ELSE n.nspname = wanted.schema END)`,
      [parts.map((part) => part.schema), parts.map((part) => part.name), [...names]],
    );
    for (const row of rows) this.unsafe(`calls ${row.name}, which it does not have`, 'medium');
  }

  /** SQL text (the statement, or a SQL function's body): what it names, resolved in this session. */
  async text(sql: string, via: string, writesExpected = false): Promise<void> {
    let refs: TextReferences;
    try {
      refs = references(sql);
    } catch (err) {
      this.unsafe(`${prefix(via)}SQL the bot cannot parse (${(err as Error).message})`, 'medium');
      return;
    }
    if (!writesExpected)
      for (const write of refs.writes) this.unsafe(`${prefix(via)}runs ${write}`, 'medium');
    const functionOids = [
      ...(await this.visibleFunctions(refs.functions)),
      ...(await this.attributeFunctions(refs.attributes)),
      ...(await this.castFunctions(refs.castTypes)),
    ];
    const operatorOids = await this.visibleOperatorFunctions(refs.operators);
    const relationOids = await this.resolveRelations(refs.relations);
    await this.functions([...functionOids, ...operatorOids], { via });
    await this.relations(relationOids, { via });
  }

  /** Every overload of each name the session could call: the one Postgres picks is among them. */
  private async visibleFunctions(names: TextReferences['functions']): Promise<number[]> {
    if (names.length === 0) return [];
    const { rows } = await this.client.query<{ oid: number }>(
      `SELECT p.oid::int AS oid
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         JOIN unnest($1::text[], $2::text[]) AS wanted(schema, name) ON wanted.name = p.proname
        WHERE CASE WHEN wanted.schema IS NULL THEN pg_function_is_visible(p.oid)
                   ELSE n.nspname = wanted.schema END`,
      [names.map((name) => name.schema ?? null), names.map((name) => name.name)],
    );
    return rows.map((row) => row.oid);
  }

  /**
   * Functions `x.name` could call through attribute notation: visible, callable with one
   * argument, and taking a row (a composite type) or any type (a pseudo-type such as record or
   * anyelement). A column of that name wins when the row has one; judging the function anyway
   * errs on the safe side.
   */
  private async attributeFunctions(names: string[]): Promise<number[]> {
    if (names.length === 0) return [];
    const { rows } = await this.client.query<{ oid: number }>(
      `SELECT p.oid::int AS oid
         FROM pg_proc p JOIN pg_type t ON t.oid = p.proargtypes[0]
        WHERE p.proname = ANY($1::text[]) AND p.pronargs >= 1 AND p.pronargs - p.pronargdefaults <= 1
          AND t.typtype IN ('c', 'p') AND pg_function_is_visible(p.oid)`,
      [names],
    );
    return rows.map((row) => row.oid);
  }

  /** The functions behind casts to the types the text casts to (a user-defined cast can act). */
  private async castFunctions(types: string[]): Promise<number[]> {
    if (types.length === 0) return [];
    const { rows } = await this.client.query<{ oid: number }>(
      `SELECT DISTINCT c.castfunc::int AS oid
         FROM pg_cast c JOIN unnest($1::text[]) AS wanted(name) ON c.casttarget = to_regtype(wanted.name)
        WHERE c.castfunc <> 0`,
      [types],
    );
    return rows.map((row) => row.oid);
  }

  /**
   * Operators outside pg_catalog under a name the text uses, as the session could call them: a
   * user type's `=` is a function call in disguise. pg_catalog's own are built-in comparisons
   * and arithmetic.
   */
  private async visibleOperatorFunctions(names: TextReferences['operators']): Promise<number[]> {
    if (names.length === 0) return [];
    const { rows } = await this.client.query<{ oid: number }>(
      `SELECT DISTINCT o.oprcode::oid::int AS oid
         FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
         JOIN unnest($1::text[], $2::text[]) AS wanted(schema, name) ON wanted.name = o.oprname
        WHERE n.nspname <> 'pg_catalog' AND o.oprcode <> 0
          AND CASE WHEN wanted.schema IS NULL THEN pg_operator_is_visible(o.oid)
                   ELSE n.nspname = wanted.schema END`,
      [names.map((name) => name.schema ?? null), names.map((name) => name.name)],
    );
    return rows.map((row) => row.oid);
  }

  private async resolveRelations(names: TextReferences['relations']): Promise<number[]> {
    if (names.length === 0) return [];
    const { rows } = await this.client.query<{ oid: number | null }>(
      `SELECT to_regclass(CASE WHEN schema IS NULL THEN quote_ident(name)
                               ELSE quote_ident(schema) || '.' || quote_ident(name) END)::oid::int AS oid
         FROM unnest($1::text[], $2::text[]) AS wanted(schema, name)`,
      [names.map((name) => name.schema ?? null), names.map((name) => name.name)],
    );
    return rows.flatMap((row) => (row.oid === null ? [] : [row.oid]));
  }

  private async functions(oids: number[], from: Pending): Promise<void> {
    const fresh = [...new Set(oids)].filter((oid) => !this.seenFunctions.has(oid));
    if (fresh.length === 0) return;
    for (const oid of fresh) this.seenFunctions.add(oid);
    if (this.tooMuch()) return;
    const { rows } = await this.client.query<FunctionRow>(
      `SELECT p.oid::int AS oid, n.nspname AS schema, p.proname AS name,
              pg_get_function_identity_arguments(p.oid) AS args, p.provolatile AS volatility,
              l.lanname AS language, p.prosrc AS source,
              (to_jsonb(p) ->> 'prosqlbody') IS NOT NULL AS atomic, p.prosecdef AS definer,
              pg_get_userbyid(p.proowner) AS owner, pg_has_role(p.proowner, 'USAGE') AS "ownerRights",
              EXISTS (SELECT 1 FROM pg_depend d
                       WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') AS extension
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
        WHERE p.oid = ANY($1::oid[])`,
      [fresh],
    );
    for (const fn of rows) await this.function(fn, from);
  }

  protected async function(fn: FunctionRow, from: Pending): Promise<void> {
    const system = fn.schema === 'pg_catalog';
    const label = system ? fn.name : `${fn.schema}.${fn.name}(${fn.args})`;
    const calls = `${prefix(from.via)}calls ${label}`;
    const effect = knownEffect(fn.name);
    if (effect) {
      // Named without arguments: every overload of an escape hatch is one reason. The
      // effect's reason names the function in parentheses; it is named already.
      const name = system ? fn.name : `${fn.schema}.${fn.name}`;
      this.unsafe(
        `${prefix(from.via)}calls ${name}, which ${effect.reason.replace(/ \([^)]*\)$/, '')}`,
        effect.risk,
      );
      return;
    }
    // Built-ins and extensions' own functions: the allowlist, or a declaration PostgreSQL (or
    // the extension's author) made about code this target's users cannot change.
    if (system || fn.extension) {
      if (READ_SAFE_FUNCTIONS.has(fn.name) || fn.volatility !== 'v') return;
      this.unsafe(`${calls}, which is VOLATILE and not on the read-safe list`, 'medium');
      return;
    }
    if (this.vouched.has(fn.name) || this.vouched.has(`${fn.schema}.${fn.name}`)) return;
    if (fn.volatility === 'v') {
      this.unsafe(`${calls}, a VOLATILE function (declare it with readonly= if it is read-only)`, 'medium');
      return;
    }
    await this.body(fn, calls, from);
  }

  /** A user function's body, judged as the statement is: SQL and PL/pgSQL only. */
  protected async body(fn: FunctionRow, calls: string, from: Pending): Promise<void> {
    const via = `${from.via ? `${from.via} → ` : ''}function ${fn.schema}.${fn.name}(${fn.args})`;
    if (fn.language === 'plpgsql') await this.plpgsqlBody(fn.oid, calls, via);
    else if (fn.language !== 'sql')
      this.unsafe(
        `${calls}, a ${fn.language} function whose body the bot cannot check (declare it with readonly= if it is read-only)`,
        'medium',
      );
    else if (fn.atomic) await this.atomicBody(fn.oid, via);
    else await this.text(fn.source ?? '', via);
  }

  private async relations(oids: number[], from: Pending): Promise<void> {
    const fresh = [...new Set(oids)].filter((oid) => !this.seenRelations.has(oid));
    if (fresh.length === 0) return;
    for (const oid of fresh) this.seenRelations.add(oid);
    if (this.tooMuch()) return;
    const { rows } = await this.client.query<RelationRow>(
      `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
              c.relrowsecurity AS rls
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = ANY($1::oid[])`,
      [fresh],
    );
    for (const relation of rows) {
      if (SYSTEM_SCHEMAS.has(relation.schema)) continue;
      const name = `${relation.schema}.${relation.name}`;
      if (relation.kind === 'f') {
        this.unsafe(
          `${prefix(from.via)}reads foreign table ${name}, which runs on another server through a foreign data wrapper`,
          'medium',
        );
        continue;
      }
      // A view's SELECT rule is its definition; a table's row-level security policies run on
      // every read. A materialized view is read as stored: its query does not run.
      const path = from.via ? `${from.via} → ` : '';
      if (relation.kind === 'v') await this.view(relation.oid, `${path}view ${name}`);
      if (relation.rls) await this.policies(relation.oid, `${path}a row-level security policy of ${name}`);
    }
  }

  /** A view's definition, as PostgreSQL deparses it for this session's search_path. */
  private async view(oid: number, via: string): Promise<void> {
    const { rows } = await this.client.query<{ sql: string | null }>(
      'SELECT pg_get_viewdef($1::oid) AS sql',
      [oid],
    );
    await this.text(rows[0]?.sql ?? '', via);
  }

  /** The USING and WITH CHECK expressions of a table's row-level security policies. */
  private async policies(oid: number, via: string): Promise<void> {
    const { rows } = await this.client.query<{ sql: string }>(
      `SELECT pg_get_expr(e.expr, p.polrelid) AS sql
         FROM pg_policy p, LATERAL (VALUES (p.polqual), (p.polwithcheck)) AS e(expr)
        WHERE p.polrelid = $1::oid AND e.expr IS NOT NULL`,
      [oid],
    );
    for (const row of rows) await this.text(`SELECT ${row.sql}`, via);
  }

  /**
   * A PL/pgSQL body: every statement and expression in it, judged as a view's definition is.
   * STABLE does not stop a PL/pgSQL function from signalling a backend or calling dblink, so
   * its body decides; SQL it builds at run time (EXECUTE) cannot be judged from its text.
   */
  private async plpgsqlBody(oid: number, calls: string, via: string): Promise<void> {
    const { rows } = await this.client.query<{ sql: string }>('SELECT pg_get_functiondef($1::oid) AS sql', [
      oid,
    ]);
    let body: ReturnType<typeof plpgsqlSql>;
    try {
      body = plpgsqlSql(rows[0]?.sql ?? '');
    } catch (err) {
      this.unsafe(
        `${calls}, a plpgsql function whose body the bot cannot parse (${(err as Error).message})`,
        'medium',
      );
      return;
    }
    if (body.dynamic) {
      this.unsafe(
        `${calls}, a plpgsql function that runs SQL it builds at run time (EXECUTE; declare it with readonly= if it is read-only)`,
        'medium',
      );
      return;
    }
    for (const statement of body.statements) await this.text(statement, via);
  }

  /** A `BEGIN ATOMIC` body is stored parsed; its text comes back inside CREATE FUNCTION. */
  private async atomicBody(oid: number, via: string): Promise<void> {
    const { rows } = await this.client.query<{ sql: string }>('SELECT pg_get_functiondef($1::oid) AS sql', [
      oid,
    ]);
    await this.text(rows[0]?.sql ?? '', via);
  }
}

function prefix(via: string): string {
  return via ? `${via} ` : '';
}
