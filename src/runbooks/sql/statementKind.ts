import type { Risk } from '../model.js';
import { walk } from './ast.js';
import type { StatementNode } from './classify.js';
import { dmlRiskLevel, dmlRiskReason } from './dmlRisk.js';
import type { Verdict } from './verdict.js';

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

/** The statement's kind in words, and what it does to the verdict beyond its function calls. */
export function statementKind(type: string, body: Record<string, unknown>, verdict: Verdict): string {
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
