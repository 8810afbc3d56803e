import type { Risk } from '../model.js';
import { EFFECTFUL_FUNCTIONS, normalizeFunctionName, READ_SAFE_FUNCTIONS } from './readSafeFunctions.js';

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
}

const RISK_ORDER: Record<Risk, number> = { low: 0, medium: 1, high: 2 };

/** Every node of the tree, depth first, with its type name (the single key of `{ Type: {…} }`). */
function* walk(node: unknown): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const item of node) yield* walk(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (/^[A-Z]/.test(key) && value && typeof value === 'object' && !Array.isArray(value))
      yield [key, value as Record<string, unknown>];
    yield* walk(value);
  }
}

function strings(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) => {
    const text = (item as { String?: { sval?: string } }).String?.sval;
    return text === undefined ? [] : [text];
  });
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
    const def = (option as { DefElem?: { defname?: string; arg?: { String?: { sval?: string } } } }).DefElem;
    if (!def?.defname) return [];
    const value = def.arg?.String?.sval?.toLowerCase();
    return value && ['false', 'off', '0', 'no'].includes(value) ? [] : [def.defname.toLowerCase()];
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

  for (const name of functions) {
    if (READ_SAFE_FUNCTIONS.has(name) || readOnlyFunctions.has(name)) continue;
    const effect = EFFECTFUL_FUNCTIONS.get(name);
    if (effect) verdict.action(`calls ${name}`, effect.risk, effect.reason);
    else
      verdict.action(
        `calls ${name}, not known to be read-only (declare it with <!-- runbook: readonly=${name} --> if it is)`,
        'medium',
        `unknown function ${name}`,
      );
  }
  // Writes nested anywhere (a data-modifying WITH, EXPLAIN ANALYZE of an UPDATE) carry their own risk.
  for (const [nested, nestedBody] of walk(body)) {
    if (nested === 'UpdateStmt' || nested === 'DeleteStmt') dmlRisk(nested, nestedBody, verdict);
  }
  const isCheck = verdict.actionReasons.length === 0;
  return {
    class: isCheck ? 'check' : 'action',
    kind,
    functions,
    actionReasons: verdict.actionReasons,
    risk: isCheck ? undefined : (verdict.risk ?? 'medium'),
    riskReasons: isCheck ? [] : verdict.riskReasons,
    noTransaction: verdict.noTransaction,
  };
}

function dmlRisk(type: string, body: Record<string, unknown>, verdict: Verdict): void {
  const verb = type === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
  verdict.raise(body.whereClause ? 'medium' : 'high', dmlRiskReason(verb, body));
}

function dmlRiskReason(verb: string, body: Record<string, unknown>): string {
  return body.whereClause ? `${verb} with WHERE` : `${verb} without WHERE`;
}

/** The statement's kind in words, and what it does to the verdict beyond its function calls. */
function statementKind(type: string, body: Record<string, unknown>, verdict: Verdict): string {
  switch (type) {
    case 'SelectStmt':
      return selectKind(body, verdict);
    case 'VariableShowStmt':
      return 'SHOW';
    case 'ExplainStmt': {
      if (defNames(body.options).includes('analyze')) {
        verdict.action('EXPLAIN ANALYZE executes the statement', 'medium');
        return 'EXPLAIN ANALYZE';
      }
      const inner = body.query as StatementNode | undefined;
      if (inner && Object.keys(inner)[0] !== 'SelectStmt')
        verdict.action('EXPLAIN of a statement that is not a SELECT', 'low');
      return 'EXPLAIN';
    }
    case 'UpdateStmt':
    case 'DeleteStmt': {
      const verb = type === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
      verdict.action(`${verb} changes data`, body.whereClause ? 'medium' : 'high', dmlRiskReason(verb, body));
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
      verdict.action(
        body.is_from ? 'COPY FROM loads data' : 'COPY reads or writes files',
        body.is_from ? 'high' : 'medium',
      );
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
      if (concurrent) verdict.noTransaction = true;
      verdict.action('REINDEX rebuilds indexes', 'medium');
      return concurrent ? 'REINDEX CONCURRENTLY' : 'REINDEX';
    }
    case 'ClusterStmt':
      verdict.action('CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock', 'high');
      return 'CLUSTER';
    case 'VariableSetStmt': {
      const name = String(body.name ?? '').toLowerCase();
      if (name === 'role' || name === 'session_authorization') {
        verdict.action(`SET ${name.toUpperCase().replace('_', ' ')} changes who the session acts as`, 'high');
        return name === 'role' ? 'SET ROLE' : 'SET SESSION AUTHORIZATION';
      }
      verdict.action('SET changes a session setting', 'low');
      return body.kind === 'VAR_RESET' || body.kind === 'VAR_RESET_ALL' ? 'RESET' : 'SET';
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
      return String(body.kind ?? 'TRANSACTION').replace(/^TRANS_STMT_/, '');
    case 'CommentStmt':
      verdict.action('COMMENT changes the schema', 'low');
      return 'COMMENT';
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
      if (body.concurrent) verdict.noTransaction = true;
      verdict.action('REFRESH MATERIALIZED VIEW rewrites it', 'medium');
      return 'REFRESH MATERIALIZED VIEW';
    default: {
      // Every other statement changes something (DDL, roles, extensions…).
      const words = type
        .replace(/Stmt$/, '')
        .replace(/([a-z])([A-Z])/g, '$1 $2')
        .toUpperCase();
      const label = KNOWN_DDL[type] ?? words;
      verdict.action(`${label} changes the schema or the server`, 'medium');
      return label;
    }
  }
}

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
  CreateTableAsStmt: 'CREATE TABLE AS',
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

function alterTableKind(body: Record<string, unknown>, verdict: Verdict): string {
  const subtypes = Array.isArray(body.cmds)
    ? body.cmds.map((cmd) =>
        String((cmd as { AlterTableCmd?: { subtype?: string } }).AlterTableCmd?.subtype ?? ''),
      )
    : [];
  if (subtypes.includes('AT_DisableRowSecurity') || subtypes.includes('AT_NoForceRowSecurity')) {
    verdict.action(
      'ALTER TABLE … DISABLE ROW LEVEL SECURITY exposes every row',
      'high',
      'DISABLE ROW LEVEL SECURITY',
    );
    return 'ALTER TABLE DISABLE ROW LEVEL SECURITY';
  }
  if (subtypes.some((subtype) => subtype.startsWith('AT_DisableTrig'))) {
    verdict.action('ALTER TABLE … DISABLE TRIGGER stops a trigger', 'medium');
    return 'ALTER TABLE DISABLE TRIGGER';
  }
  if (subtypes.includes('AT_DropColumn')) {
    verdict.action('ALTER TABLE … DROP COLUMN removes data', 'high', 'DROP COLUMN');
    return 'ALTER TABLE DROP COLUMN';
  }
  verdict.action('ALTER TABLE changes the schema', 'medium');
  return 'ALTER TABLE';
}

function objectName(removeType: unknown): string {
  return String(removeType ?? 'OBJECT_UNKNOWN')
    .replace(/^OBJECT_/, '')
    .replaceAll('_', ' ');
}
