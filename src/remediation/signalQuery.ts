import { parseSync, scanSync } from 'libpg-query';
import type { SignalScope } from '../runbooks/model.js';
import { walk } from '../runbooks/sql/ast.js';
import { normalizeFunctionName, READ_SAFE_FUNCTIONS } from '../runbooks/sql/readSafeFunctions.js';
import { BOT_APPLICATION_NAME } from '../targets/target.js';
import { PlanError } from './planError.js';

/**
 * Statements that signal backends (`pg_terminate_backend`, `pg_cancel_backend`) are never
 * run as written, not even to preview them: the signal is not undone by a ROLLBACK. This
 * module turns such a statement into the query for the pids it would signal (its FROM and
 * WHERE with the call replaced by its argument), and holds the safety exclusions that both
 * the preview and the execution apply.
 */

export type SignalFunction = 'pg_terminate_backend' | 'pg_cancel_backend';

export const SIGNAL_FUNCTIONS: ReadonlySet<string> = new Set<SignalFunction>([
  'pg_terminate_backend',
  'pg_cancel_backend',
]);

export interface SignalCall {
  fn: SignalFunction;
  /** A SELECT returning the pids (int4) the statement would signal; same `$n` as the statement. */
  pidQuery: string;
}

interface FuncCallNode {
  funcname?: unknown;
  args?: unknown[];
  location?: number;
}

interface Found {
  call: FuncCallNode;
  name: string;
}

function functionName(call: FuncCallNode): string {
  const parts = Array.isArray(call.funcname)
    ? call.funcname.flatMap((part) => {
        const text = (part as { String?: { sval?: string } }).String?.sval;
        return text === undefined ? [] : [text];
      })
    : [];
  return normalizeFunctionName(parts);
}

/**
 * The pid query for a signalling statement. Only the shape whose result we can evaluate
 * without the call is accepted: a single SELECT with exactly one signalling call, directly
 * one of its output columns, and otherwise only read-safe functions. Anything else is a
 * PlanError: a statement the bot cannot preview is not one it executes.
 */
export function signalCall(sql: string): SignalCall {
  const parsed = parseSync(sql) as { stmts?: Array<{ stmt: Record<string, unknown> }> };
  const statements = parsed.stmts ?? [];
  if (statements.length !== 1) throw new PlanError('expected exactly one statement');
  const select = (statements[0]!.stmt as { SelectStmt?: Record<string, unknown> }).SelectStmt;
  if (!select || !Array.isArray(select.targetList))
    throw new PlanError('a signalling statement is previewed only as a plain SELECT … pg_*_backend(pid) …');
  if (select.intoClause) throw new PlanError('SELECT INTO with a signalling call cannot be previewed');

  const signalling: Found[] = [];
  for (const [type, body] of walk(select)) {
    if (type !== 'FuncCall') continue;
    const name = functionName(body as FuncCallNode);
    if (SIGNAL_FUNCTIONS.has(name)) signalling.push({ call: body as FuncCallNode, name });
    else if (!READ_SAFE_FUNCTIONS.has(name))
      // Evaluating the FROM/WHERE must itself be harmless.
      throw new PlanError(
        `it also calls ${name}, so which backends it would signal cannot be evaluated safely`,
      );
  }
  if (signalling.length !== 1)
    throw new PlanError(`it makes ${signalling.length} signalling calls; previews handle exactly one`);
  const [{ call, name }] = signalling as [Found];
  if (!call.args || call.args.length === 0 || call.location === undefined)
    throw new PlanError(`${name} has no pid argument`);

  // The call must be an output column of the top-level SELECT, so dropping it leaves the
  // rows (and so the pids) the statement would have produced.
  const targets = select.targetList as Array<{ ResTarget?: { val?: { FuncCall?: FuncCallNode } } }>;
  const column = targets.findIndex((target) => target.ResTarget?.val?.FuncCall === call);
  if (column < 0)
    throw new PlanError(`${name} is not an output column of the SELECT; the preview cannot evaluate it`);
  // `*` before it expands to an unknown number of columns, and the pid column is found by position.
  for (const [type] of walk(targets.slice(0, column)))
    if (type === 'A_Star') throw new PlanError(`a * before ${name}(…) in the SELECT list`);

  const rewritten = replaceCall(sql, call.location);
  const aliases = Array.from({ length: column + 1 }, (_, i) => `c${i}`).join(', ');
  // The column alias list renames by position; fewer aliases than columns is allowed.
  const pidQuery = `SELECT rb_pick.c${column} FROM (\n${rewritten}\n) AS rb_pick(${aliases})`;
  return { fn: name as SignalFunction, pidQuery };
}

/**
 * `pg_terminate_backend(<arg>[, timeout])` → `(<arg>)::int4`, found with the SQL scanner so
 * parentheses and commas in strings and comments are not miscounted. Offsets are bytes.
 */
function replaceCall(sql: string, location: number): string {
  const bytes = Buffer.from(sql, 'utf8');
  const tokens = scanSync(sql).tokens;
  const open = tokens.findIndex((token) => token.start >= location && token.text === '(');
  if (open < 0) throw new PlanError('could not find the call’s argument list');
  let depth = 0;
  let argEnd: number | undefined;
  let close: number | undefined;
  for (let i = open; i < tokens.length; i++) {
    const text = tokens[i]!.text;
    if (text === '(' || text === '[') depth += 1;
    else if (text === ')' || text === ']') {
      depth -= 1;
      if (depth === 0) {
        close = i;
        argEnd ??= i - 1;
        break;
      }
    } else if (text === ',' && depth === 1) argEnd ??= i - 1;
  }
  if (close === undefined || argEnd === undefined || argEnd <= open)
    throw new PlanError('could not find the call’s argument');
  const arg = bytes.subarray(tokens[open + 1]!.start, tokens[argEnd]!.end).toString('utf8');
  return (
    bytes.subarray(0, location).toString('utf8') +
    `(${arg})::int4` +
    bytes.subarray(tokens[close]!.end).toString('utf8')
  );
}

/** A string constant as an SQL literal; only ever used for our own constants. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Why a backend must not be signalled, or NULL when it may be: the session running this
 * query, any session of the bot, anything not a client backend (walsenders, autovacuum,
 * background workers), superusers, and, unless the runbook widened the scope to the server,
 * sessions of another database than the target's: pg_stat_activity shows the whole server,
 * and a runbook about this database means this database's sessions.
 * Expects `pg_stat_activity a LEFT JOIN pg_roles r`.
 */
function exclusionReason(scope: SignalScope): string {
  const otherDatabase =
    scope === 'server'
      ? ''
      : "\n    WHEN a.datname IS DISTINCT FROM current_database() THEN 'another database'";
  return `CASE
    WHEN a.pid = pg_backend_pid() THEN 'the executing session'
    WHEN a.application_name = ${literal(BOT_APPLICATION_NAME)} THEN 'a ${BOT_APPLICATION_NAME} session'
    WHEN a.backend_type IS DISTINCT FROM 'client backend' THEN 'not a client backend'
    WHEN r.rolsuper IS NOT FALSE THEN 'a superuser'${otherDatabase}
  END`;
}

/** The backends `pidQuery` selects, with why each one is excluded (NULL: it would be signalled). */
export function backendsSql(pidQuery: string, scope: SignalScope): string {
  return `SELECT a.pid, a.usename, a.datname, a.application_name, a.state,
  extract(epoch from now() - coalesce(a.state_change, a.backend_start))::int AS age_seconds,
  left(a.query, 200) AS query,
  ${exclusionReason(scope)} AS excluded
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.pid IN (${pidQuery})
ORDER BY a.pid`;
}

/**
 * Signals the given pids, re-checking the exclusions at the moment of signalling. The target
 * list is evaluated only for rows that pass the WHERE, so an excluded backend is never signalled.
 * `fn` is one of two known names, never user text.
 */
export function signalSql(fn: SignalFunction, scope: SignalScope): string {
  // Terminating waits (up to 2 s, PostgreSQL 14+) until the backend has exited, so the
  // verification that follows sees the world after the change, not during it.
  const call = fn === 'pg_terminate_backend' ? `${fn}(a.pid, 2000)` : `${fn}(a.pid)`;
  return `SELECT a.pid, ${call} AS signalled
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.pid = ANY($1::int4[]) AND (${exclusionReason(scope)}) IS NULL
ORDER BY a.pid`;
}
