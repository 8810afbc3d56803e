import type { Risk } from '../model.js';
import { strings, walk } from './ast.js';
import { knownEffect, normalizeFunctionName, READ_SAFE_FUNCTIONS } from './readSafeFunctions.js';

/** One parsed statement node from libpg-query: `{ SelectStmt: {…} }`, `{ UpdateStmt: {…} }`, … */
export type StatementNode = Record<string, unknown>;

export interface Classification {
  class: 'check' | 'action';
  kind: string;
  functions: string[];
  actionReasons: string[];
  risk?: Risk;
  riskReasons: string[];
  noTransaction: boolean;
  /**
   * An action only because it calls these functions, which the bot does not know: the target's
   * catalog decides at run time (STABLE or IMMUTABLE, and a body that only reads: a check).
   */
  unknownFunctions?: string[];
}

const RISK_ORDER: Record<Risk, number> = { low: 0, medium: 1, high: 2 };

/**
 * The author's `readonly=` list, matched with or without a schema: `check_system_health`
 * vouches for `public.check_system_health()` and the other way round.
 */
function vouchedFor(name: string, readOnlyFunctions: ReadonlySet<string>): boolean {
  if (readOnlyFunctions.has(name)) return true;
  const bare = name.slice(name.lastIndexOf('.') + 1);
  for (const declared of readOnlyFunctions)
    if (declared.slice(declared.lastIndexOf('.') + 1) === bare) return true;
  return false;
}

/**
 * `OPERATOR(myschema.===)`: an operator outside pg_catalog is a function call in disguise.
 * Plain `=`, `<`, `->>`… resolve to pg_catalog first on a normal search_path.
 */
function qualifiedOperators(node: unknown): string[] {
  const names: string[] = [];
  for (const [type, body] of walk(node)) {
    if (type !== 'A_Expr') continue;
    const parts = strings(body.name);
    if (parts.length > 1 && parts[0]?.toLowerCase() !== 'pg_catalog') names.push(parts.join('.'));
  }
  return [...new Set(names)];
}

/**
 * Words that, in the name of a function the bot cannot see into, say it removes or resets
 * data in bulk (`admin_clear_shopify_sync_queue`, `admin_delete_batch`): high, like the
 * DELETE it stands for.
 */
const REMOVING_WORDS = new Set([
  'clear',
  'delete',
  'purge',
  'drop',
  'truncate',
  'wipe',
  'remove',
  'destroy',
  'erase',
  'prune',
  'reset',
]);

function removingWord(name: string): string | undefined {
  const bare = name.slice(name.lastIndexOf('.') + 1);
  const words = bare
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z]+/);
  return words.find((word) => REMOVING_WORDS.has(word));
}

function functionsCalled(node: unknown): string[] {
  const names: string[] = [];
  for (const [type, body] of walk(node))
    if (type === 'FuncCall') names.push(normalizeFunctionName(strings(body.funcname)));
  return [...new Set(names)];
}

/** Options switched on in a `(NAME [value], …)` list; `(ANALYZE false)` is off. */
function defNames(options: unknown): string[] {
  if (!Array.isArray(options)) return [];
  return options.flatMap((option) => {
    const def = (
      option as {
        DefElem?: { defname?: string; arg?: { String?: { sval?: string }; Integer?: { ival?: number } } };
      }
    ).DefElem;
    if (!def?.defname) return [];
    const value = def.arg?.String?.sval?.toLowerCase();
    // `(ANALYZE 0)`: the parser leaves a zero out, so an empty Integer is 0.
    const off = value !== undefined && ['false', 'off', '0', 'no'].includes(value);
    const zero = def.arg?.Integer !== undefined && !def.arg.Integer.ival;
    return off || zero ? [] : [def.defname.toLowerCase()];
  });
}

class Verdict {
  readonly actionReasons: string[] = [];
  readonly riskReasons: string[] = [];
  risk?: Risk;
  noTransaction = false;

  action(reason: string, risk: Risk, riskReason = reason): void {
    if (!this.actionReasons.includes(reason)) this.actionReasons.push(reason);
    this.raise(risk, riskReason);
  }

  raise(risk: Risk, reason: string): void {
    if (!this.riskReasons.includes(reason)) this.riskReasons.push(reason);
    if (!this.risk || RISK_ORDER[risk] > RISK_ORDER[this.risk]) this.risk = risk;
  }
}

/**
 * Decides whether a statement is a Check (provably read-only) or an Action, and how risky
 * an Action is. Anything this module does not positively recognize as read-only is an
 * Action: the cost of a wrong "action" is a preview; of a wrong "check", a write nobody approved.
 */
export function classify(node: StatementNode, readOnlyFunctions: ReadonlySet<string>): Classification {
  const [type, body] = Object.entries(node)[0] as [string, Record<string, unknown>];
  const verdict = new Verdict();
  const functions = functionsCalled(body);
  const kind = statementKind(type, body, verdict);
  const unknown: string[] = [];

  for (const name of functions) {
    // Known effects first: an annotation vouches for the author's own functions, and cannot
    // turn pg_terminate_backend into a Check.
    const effect = knownEffect(name);
    if (effect) {
      const ignored = vouchedFor(name, readOnlyFunctions)
        ? ' (a readonly annotation cannot vouch for it)'
        : '';
      verdict.action(`calls ${name}${ignored}`, effect.risk, effect.reason);
    } else if (!READ_SAFE_FUNCTIONS.has(name) && !vouchedFor(name, readOnlyFunctions)) {
      unknown.push(name);
      const removing = removingWord(name);
      verdict.action(
        `calls ${name}, not known to be read-only (declare it with <!-- runbook: readonly=${name} --> if it is)`,
        removing ? 'high' : 'medium',
        removing
          ? `unknown function ${name}, whose name says it removes data ("${removing}")`
          : `unknown function ${name}`,
      );
    }
  }
  for (const operator of qualifiedOperators(body))
    verdict.action(`uses operator ${operator}, not known to be read-only`, 'medium', `operator ${operator}`);
  // Writes nested anywhere (a data-modifying WITH, EXPLAIN ANALYZE of one) carry their own
  // risk; a plain EXPLAIN runs nothing.
  if (kind !== 'EXPLAIN')
    for (const [nested, nestedBody] of walk(body)) {
      if (nested === 'UpdateStmt' || nested === 'DeleteStmt') dmlRisk(nested, nestedBody, verdict);
    }
  const isCheck = verdict.actionReasons.length === 0;
  // Nothing but unknown functions stands between it and a check (no write, no known effect).
  const onlyUnknown = !isCheck && verdict.actionReasons.length === unknown.length;
  return {
    class: isCheck ? 'check' : 'action',
    kind,
    functions,
    actionReasons: verdict.actionReasons,
    risk: isCheck ? undefined : (verdict.risk ?? 'medium'),
    riskReasons: isCheck ? [] : verdict.riskReasons,
    noTransaction: verdict.noTransaction,
    ...(onlyUnknown ? { unknownFunctions: unknown } : {}),
  };
}

function dmlRisk(type: string, body: Record<string, unknown>, verdict: Verdict): void {
  const verb = type === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
  verdict.raise(dmlRiskLevel(body), dmlRiskReason(verb, body));
}

/**
 * An UPDATE or DELETE is high risk when nothing in its WHERE bounds it to picked rows: no
 * WHERE at all, or one that only filters on a property many rows share (`status = 'queued'`,
 * `retry_count >= max_retries`), so it reaches a whole queue or table. It is medium when a
 * conjunct bounds it by key (`id = $1`, `lot_id IN (…)`, `email = …`), by time
 * (`created_at < now() - interval '90 days'`), or by a LIMITed subquery.
 */
function dmlRiskLevel(body: Record<string, unknown>): Risk {
  return body.whereClause && bounded(body.whereClause) ? 'medium' : 'high';
}

function dmlRiskReason(verb: string, body: Record<string, unknown>): string {
  if (!body.whereClause) return `${verb} without WHERE`;
  if (bounded(body.whereClause)) return `${verb} with WHERE`;
  return `${verb} whose WHERE has no key, id or time bound (it reaches every row that shares the filtered values)`;
}

/** Columns that pick one row or a few: `id`, `…_id`, `uuid`, `email`, `name`, `sku`, `…_key`, `…_number`, `ctid`. */
const KEY_COLUMN =
  /^(id|.+_id|uuid|.+_uuid|pid|email|.+_email|sku|ctid|key|.+_key|slug|code|name|.+_name|username|login|.+_number)$/;
/** Columns holding a point in time: `…_at`, `…_time`, `…_date`, `created`, `updated`, `timestamp`. */
const TIME_COLUMN = /^(.+_at|.+_time|.+_date|.+_on|created|updated|modified|timestamp|ts|date|time)$/;
const TIME_FUNCTIONS = new Set(['now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp']);

function columnName(node: unknown): string | undefined {
  const fields = (node as { ColumnRef?: { fields?: unknown } } | undefined)?.ColumnRef?.fields;
  return strings(fields).at(-1)?.toLowerCase();
}

/** now(), CURRENT_TIMESTAMP/CURRENT_DATE, or an interval, anywhere in the expression. */
function mentionsTime(node: unknown): boolean {
  for (const [type, body] of walk(node)) {
    if (type === 'FuncCall' && TIME_FUNCTIONS.has(normalizeFunctionName(strings(body.funcname)))) return true;
    if (type === 'SQLValueFunction') return true;
    if (type === 'TypeCast' && strings((body.typeName as { names?: unknown })?.names).includes('interval'))
      return true;
  }
  return false;
}

/** Whether a WHERE (or one of its AND-ed parts) bounds the rows by key, time or LIMIT. */
function bounded(node: unknown): boolean {
  const [type, body] = Object.entries((node ?? {}) as Record<string, Record<string, unknown>>)[0] ?? [];
  if (!type || !body) return false;
  if (type === 'BoolExpr') {
    const args = Array.isArray(body.args) ? body.args : [];
    if (body.boolop === 'AND_EXPR') return args.some(bounded);
    if (body.boolop === 'OR_EXPR') return args.length > 0 && args.every(bounded);
    return false;
  }
  if (type === 'A_Expr') {
    const op = strings(body.name)[0];
    const sides = [body.lexpr, body.rexpr];
    const columns = sides.map(columnName);
    if ((body.kind === 'AEXPR_OP' && op === '=') || body.kind === 'AEXPR_IN')
      if (columns.some((name) => name !== undefined && KEY_COLUMN.test(name))) return true;
    const ranged =
      (body.kind === 'AEXPR_OP' && ['<', '<=', '>', '>='].includes(op ?? '')) ||
      String(body.kind).startsWith('AEXPR_BETWEEN');
    if (ranged) {
      if (columns.some((name) => name !== undefined && (TIME_COLUMN.test(name) || KEY_COLUMN.test(name))))
        return true;
      if (sides.some(mentionsTime)) return true;
    }
    return false;
  }
  if (type === 'SubLink') {
    // `id IN (SELECT id … LIMIT 500)`: a batch of a bounded size.
    const select = (body.subselect as { SelectStmt?: Record<string, unknown> } | undefined)?.SelectStmt;
    return Boolean(select?.limitCount);
  }
  return false;
}

/** The statement's kind in words, and what it does to the verdict beyond its function calls. */
function statementKind(type: string, body: Record<string, unknown>, verdict: Verdict): string {
  switch (type) {
    case 'SelectStmt':
      return selectKind(body, verdict);
    case 'VariableShowStmt':
      return 'SHOW';
    case 'ExplainStmt': {
      const analyze = defNames(body.options).includes('analyze');
      if (analyze) verdict.action('EXPLAIN ANALYZE executes the statement', 'medium');
      const [innerType, innerBody] = Object.entries((body.query ?? {}) as StatementNode)[0] ?? [];
      const inner = (innerBody ?? {}) as Record<string, unknown>;
      // A plain EXPLAIN is a Check only when what it explains would be one; under ANALYZE the
      // inner statement runs, so it brings its own reasons and risk.
      if (innerType === 'SelectStmt') selectKind(inner, verdict);
      else if (analyze && innerType) statementKind(innerType, inner, verdict);
      else verdict.action('EXPLAIN of a statement that is not a SELECT', 'low');
      return analyze ? 'EXPLAIN ANALYZE' : 'EXPLAIN';
    }
    case 'UpdateStmt':
    case 'DeleteStmt': {
      const verb = type === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
      verdict.action(`${verb} changes data`, dmlRiskLevel(body), dmlRiskReason(verb, body));
      return verb;
    }
    case 'InsertStmt':
      verdict.action('INSERT changes data', 'medium');
      return 'INSERT';
    case 'MergeStmt':
      verdict.action('MERGE changes data', 'medium');
      return 'MERGE';
    case 'TruncateStmt':
      verdict.action('TRUNCATE removes every row', 'high');
      return 'TRUNCATE';
    case 'CopyStmt':
      if (body.is_program) verdict.action('COPY … PROGRAM runs a shell command on the server', 'high');
      else if (body.is_from) verdict.action('COPY FROM loads data', 'high');
      else if (body.filename) verdict.action('COPY TO a file writes on the server', 'high');
      else verdict.action('COPY is not run as a check', 'low');
      return body.is_from ? 'COPY FROM' : 'COPY';
    case 'DropStmt': {
      const what = objectName(body.removeType);
      if (body.concurrent) verdict.noTransaction = true;
      verdict.action(`DROP ${what} removes it`, 'high', 'DROP');
      return `DROP ${what}${body.concurrent ? ' CONCURRENTLY' : ''}`;
    }
    case 'DropdbStmt':
      verdict.noTransaction = true;
      verdict.action('DROP DATABASE', 'high');
      return 'DROP DATABASE';
    case 'AlterTableStmt':
      return alterTableKind(body, verdict);
    case 'VacuumStmt': {
      const options = defNames(body.options);
      if (!body.is_vacuumcmd) {
        verdict.action('ANALYZE updates statistics', 'low');
        return 'ANALYZE';
      }
      verdict.noTransaction = true;
      if (options.includes('full')) {
        verdict.action(
          'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock',
          'high',
          'VACUUM FULL',
        );
        return 'VACUUM FULL';
      }
      verdict.action('VACUUM changes the table’s storage', 'low', 'VACUUM');
      return 'VACUUM';
    }
    case 'IndexStmt':
      if (body.concurrent) verdict.noTransaction = true;
      verdict.action('CREATE INDEX changes the schema', 'medium');
      return body.concurrent ? 'CREATE INDEX CONCURRENTLY' : 'CREATE INDEX';
    case 'ReindexStmt': {
      const concurrent = defNames(body.params).includes('concurrently');
      const wide = body.kind === 'REINDEX_OBJECT_DATABASE' || body.kind === 'REINDEX_OBJECT_SYSTEM';
      if (concurrent || wide) verdict.noTransaction = true;
      verdict.action('REINDEX rebuilds indexes', 'medium');
      return concurrent ? 'REINDEX CONCURRENTLY' : 'REINDEX';
    }
    case 'ClusterStmt':
      // CLUSTER of every table commits between tables.
      if (!body.relation) verdict.noTransaction = true;
      verdict.action('CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock', 'high');
      return 'CLUSTER';
    case 'VariableSetStmt': {
      const name = String(body.name ?? '').toLowerCase();
      const verb = body.kind === 'VAR_RESET' || body.kind === 'VAR_RESET_ALL' ? 'RESET' : 'SET';
      if (name === 'role' || name === 'session_authorization') {
        const what = name === 'role' ? 'ROLE' : 'SESSION AUTHORIZATION';
        verdict.action(`${verb} ${what} changes who the session acts as`, 'high');
        return `${verb} ${what}`;
      }
      verdict.action(`${verb} changes a session setting`, 'low');
      return verb;
    }
    case 'NotifyStmt':
      verdict.action('NOTIFY sends a notification', 'low');
      return 'NOTIFY';
    case 'ListenStmt':
      verdict.action('LISTEN subscribes the session', 'low');
      return 'LISTEN';
    case 'CallStmt':
      verdict.action('CALL runs a procedure that may do anything', 'high');
      return 'CALL';
    case 'DoStmt':
      verdict.action('DO runs a code block that may do anything', 'high');
      return 'DO';
    case 'GrantStmt':
    case 'GrantRoleStmt':
      verdict.action(body.is_grant ? 'GRANT changes privileges' : 'REVOKE changes privileges', 'high');
      return body.is_grant ? 'GRANT' : 'REVOKE';
    case 'AlterSystemStmt':
      verdict.noTransaction = true;
      verdict.action('ALTER SYSTEM changes the server configuration', 'high');
      return 'ALTER SYSTEM';
    case 'LockStmt':
      verdict.action('LOCK takes table locks', 'medium');
      return 'LOCK';
    case 'TransactionStmt':
      verdict.action('transaction control in a runbook block', 'medium');
      return String(body.kind ?? 'TRANSACTION')
        .replace(/^TRANS_STMT_/, '')
        .replaceAll('_', ' ');
    case 'CommentStmt':
      verdict.action('COMMENT changes the schema', 'low');
      return 'COMMENT';
    case 'DiscardStmt':
      // DISCARD ALL cannot run inside a transaction block; the others can.
      if (body.target === 'DISCARD_ALL') verdict.noTransaction = true;
      verdict.action('DISCARD resets session state', 'low');
      return 'DISCARD';
    case 'CheckPointStmt':
      verdict.action('CHECKPOINT forces a checkpoint', 'medium');
      return 'CHECKPOINT';
    case 'CreatedbStmt':
      verdict.noTransaction = true;
      verdict.action('CREATE DATABASE', 'medium');
      return 'CREATE DATABASE';
    case 'CreateTrigStmt':
      // A trigger runs on every write to its table: a wrong one corrupts data quietly.
      verdict.action('CREATE TRIGGER changes what every write to the table does', 'high', 'CREATE TRIGGER');
      return 'CREATE TRIGGER';
    case 'RefreshMatViewStmt':
      // Unlike CREATE INDEX CONCURRENTLY, REFRESH … CONCURRENTLY may run in a transaction.
      verdict.action('REFRESH MATERIALIZED VIEW rewrites it', 'medium');
      return 'REFRESH MATERIALIZED VIEW';
    case 'CreateTableAsStmt': {
      const label = body.objtype === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS';
      verdict.action(`${label} creates a table and fills it`, 'medium');
      return label;
    }
    case 'CreateRoleStmt':
    case 'AlterRoleStmt':
    case 'AlterDefaultPrivilegesStmt': {
      // A role's attributes (SUPERUSER, BYPASSRLS, LOGIN…) are privileges like GRANT's.
      const label = KNOWN_DDL[type] ?? 'ALTER DEFAULT PRIVILEGES';
      verdict.action(`${label} changes privileges`, 'high');
      return label;
    }
    default: {
      // Every other statement changes something (DDL, roles, extensions…).
      const words = type
        .replace(/Stmt$/, '')
        .replace(/([a-z])([A-Z])/g, '$1 $2')
        .toUpperCase();
      const label = KNOWN_DDL[type] ?? words;
      if (NO_TRANSACTION.has(type)) verdict.noTransaction = true;
      // DROP OWNED, DROP ROLE, DROP TABLESPACE…: any DROP is high, as for DropStmt.
      if (type.startsWith('Drop')) verdict.action(`${label} removes it`, 'high', 'DROP');
      else verdict.action(`${label} changes the schema or the server`, 'medium');
      return label;
    }
  }
}

/** Statements Postgres refuses inside a transaction block (besides those handled above). */
const NO_TRANSACTION: ReadonlySet<string> = new Set([
  'CreateTableSpaceStmt',
  'DropTableSpaceStmt',
  'CreateSubscriptionStmt',
  'DropSubscriptionStmt',
]);

const KNOWN_DDL: Record<string, string> = {
  CreateStmt: 'CREATE TABLE',
  CreateFunctionStmt: 'CREATE FUNCTION',
  ViewStmt: 'CREATE VIEW',
  CreatePolicyStmt: 'CREATE POLICY',
  AlterPolicyStmt: 'ALTER POLICY',
  CreateExtensionStmt: 'CREATE EXTENSION',
  CreateSchemaStmt: 'CREATE SCHEMA',
  CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  CreateRoleStmt: 'CREATE ROLE',
  AlterRoleStmt: 'ALTER ROLE',
  RenameStmt: 'RENAME',
  DropOwnedStmt: 'DROP OWNED',
  DropRoleStmt: 'DROP ROLE',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
  AlterFunctionStmt: 'ALTER FUNCTION',
  AlterOwnerStmt: 'ALTER OWNER',
  CreateEnumStmt: 'CREATE TYPE',
  CompositeTypeStmt: 'CREATE TYPE',
};

function selectKind(body: Record<string, unknown>, verdict: Verdict): string {
  if (body.intoClause) verdict.action('SELECT INTO creates a table', 'medium');
  for (const [type] of walk(body)) {
    if (type === 'LockingClause') verdict.action('locks rows (FOR UPDATE / FOR SHARE)', 'medium');
    if (type === 'InsertStmt' || type === 'UpdateStmt' || type === 'DeleteStmt' || type === 'MergeStmt')
      verdict.action('a WITH clause changes data', 'medium');
    if (type === 'IntoClause') verdict.action('SELECT INTO creates a table', 'medium');
  }
  return body.intoClause ? 'SELECT INTO' : 'SELECT';
}

/** Every subcommand counts: `DISABLE TRIGGER x, DROP COLUMN y` is as risky as its worst part. */
function alterTableKind(body: Record<string, unknown>, verdict: Verdict): string {
  const cmds = Array.isArray(body.cmds)
    ? body.cmds.map((cmd) => (cmd as { AlterTableCmd?: Record<string, unknown> }).AlterTableCmd ?? {})
    : [];
  const subtypes = cmds.map((cmd) => String(cmd.subtype ?? ''));
  const verb = `ALTER ${objectName(body.objtype ?? 'OBJECT_TABLE')}`;
  let kind: string | undefined;
  const rule = (matched: boolean, what: string, reason: string, risk: Risk) => {
    if (!matched) return;
    verdict.action(`${verb} … ${what} ${reason}`, risk, what);
    kind ??= `${verb} ${what}`;
  };
  rule(subtypes.includes('AT_DisableRowSecurity'), 'DISABLE ROW LEVEL SECURITY', 'exposes every row', 'high');
  rule(
    subtypes.includes('AT_NoForceRowSecurity'),
    'NO FORCE ROW LEVEL SECURITY',
    'exempts the owner',
    'high',
  );
  rule(subtypes.includes('AT_DropColumn'), 'DROP COLUMN', 'removes data', 'high');
  rule(subtypes.includes('AT_DropConstraint'), 'DROP CONSTRAINT', 'stops guarding the data', 'high');
  rule(
    subtypes.some((subtype) => subtype.startsWith('AT_DisableTrig')),
    'DISABLE TRIGGER',
    'stops a trigger',
    'medium',
  );
  if (!kind) verdict.action(`${verb} changes the schema`, 'medium');
  // DETACH PARTITION … CONCURRENTLY commits part-way, like CREATE INDEX CONCURRENTLY.
  for (const [type, node] of walk(cmds))
    if (type === 'PartitionCmd' && node.concurrent) verdict.noTransaction = true;
  return kind ?? verb;
}

function objectName(removeType: unknown): string {
  return String(removeType ?? 'OBJECT_UNKNOWN')
    .replace(/^OBJECT_/, '')
    .replaceAll('_', ' ');
}
