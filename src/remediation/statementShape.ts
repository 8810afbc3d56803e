import { parseSync } from 'libpg-query';
import type { ActionStep } from '../runbooks/model.js';
import { walk } from '../runbooks/sql/ast.js';
import { READ_SAFE_FUNCTIONS } from '../runbooks/sql/readSafeFunctions.js';
import { PlanError } from './planError.js';
import { SIGNAL_FUNCTIONS } from './signalQuery.js';

/**
 * How an action can be previewed and executed, decided from its parse tree: whether a
 * rolled-back transaction shows its effect (DML), whether it signals backends, or whether it
 * can only be described (DDL, VACUUM, NOTIFY, unknown functions), and which lock it takes.
 */

/** trial: a call to the target's own function, tried in a rolled-back transaction (functionTrial.ts). */
export type PlanMode = 'dml' | 'signal' | 'no-transaction' | 'statement' | 'trial';

export interface StatementShape {
  mode: PlanMode;
  /** Table lock the statement takes, when known. */
  lockLevel?: string;
  /** For DML: up to 5 affected rows, when the statement can be wrapped in a CTE. */
  sampleSql?: string;
  /** DML verb for summaries: UPDATE, DELETE, INSERT, MERGE, or SELECT (data-modifying WITH). */
  verb: string;
}

type Node = Record<string, unknown>;

const DML_TYPES = new Set(['UpdateStmt', 'DeleteStmt', 'InsertStmt', 'MergeStmt']);

const SAMPLE_ROWS = 5;

export function statementShape(step: ActionStep): StatementShape {
  const { statement } = step;
  let parsed: { stmts?: Array<{ stmt: Node }> };
  try {
    parsed = parseSync(statement.sql) as { stmts?: Array<{ stmt: Node }> };
  } catch (err) {
    throw new PlanError(`the statement does not parse: ${(err as Error).message}`);
  }
  // One statement only: the SQL is sent as written, and with no bind values pg would accept
  // several statements in one string.
  if (parsed.stmts?.length !== 1) throw new PlanError('an action must be exactly one statement');
  const [type, body] = Object.entries(parsed.stmts[0]!.stmt)[0] as [string, Node];
  if (type === 'TransactionStmt')
    throw new PlanError('transaction control (BEGIN/COMMIT/ROLLBACK) is not executed by the bot');

  const lockLevel = lockLevelOf(type, body);
  if (statement.functions.some((name) => SIGNAL_FUNCTIONS.has(name)))
    return { mode: 'signal', verb: 'SELECT' };
  if (step.noTransaction) return { mode: 'no-transaction', lockLevel, verb: statement.kind };

  // DML is previewed by running it and rolling back, which is only harmless when nothing in
  // it has effects a ROLLBACK does not undo: every function called must be read-safe.
  const harmless = statement.functions.every((name) => READ_SAFE_FUNCTIONS.has(name));
  const isDml =
    DML_TYPES.has(type) ||
    (type === 'SelectStmt' && !body.intoClause && [...walk(body)].some(([nested]) => DML_TYPES.has(nested)));
  if (!isDml || !harmless) return { mode: 'statement', lockLevel, verb: statement.kind };

  return { mode: 'dml', verb: statement.kind, sampleSql: sampleSql(type, body, statement.sql) };
}

/** Whether a DML node has RETURNING: PostgreSQL 18's parser keeps it in a returningClause (it may name OLD and NEW). */
export function hasReturning(body: Node): boolean {
  return (
    (Array.isArray(body.returningList) && body.returningList.length > 0) || Boolean(body.returningClause)
  );
}

/**
 * `WITH x AS (<dml> RETURNING *) SELECT * FROM x LIMIT 5`: the rows it would change, as
 * they would be after the change. MERGE … RETURNING is too new (PostgreSQL 17) to rely on,
 * and a SELECT's rows are not the rows its WITH clauses change: no sample for those.
 * Newlines keep a trailing `--` comment from swallowing what follows.
 */
function sampleSql(type: string, body: Node, sql: string): string | undefined {
  if (type !== 'UpdateStmt' && type !== 'DeleteStmt' && type !== 'InsertStmt') return undefined;
  const returning = hasReturning(body);
  return `WITH rb_sample AS (\n${sql}\n${returning ? '' : 'RETURNING *\n'}) SELECT * FROM rb_sample LIMIT ${SAMPLE_ROWS}`;
}

const LOCK_MODES = [
  undefined,
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
];

/** Objects whose DROP takes ACCESS EXCLUSIVE on a table (or the object itself). */
const DROP_LOCKS_TABLE = new Set([
  'OBJECT_TABLE',
  'OBJECT_INDEX',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_SEQUENCE',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_TRIGGER',
  'OBJECT_RULE',
  'OBJECT_POLICY',
]);

/**
 * The strongest table lock a statement takes, from the PostgreSQL documentation ("Explicit
 * Locking" and each command's page). Where a command's lock depends on details we do not
 * model, the strongest it may take is given; unknown → undefined rather than a guess.
 */
function lockLevelOf(type: string, body: Node): string | undefined {
  switch (type) {
    case 'VacuumStmt': {
      const full = walkDefs(body.options).includes('full');
      return full ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE';
    }
    case 'IndexStmt':
      return body.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE';
    case 'ReindexStmt':
      // Without CONCURRENTLY the indexes are locked ACCESS EXCLUSIVE (the table SHARE).
      return walkDefs(body.params).includes('concurrently') ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    case 'CreateTrigStmt':
      return 'SHARE ROW EXCLUSIVE';
    case 'TruncateStmt':
    case 'ClusterStmt':
      return 'ACCESS EXCLUSIVE';
    case 'DropStmt':
      if (body.concurrent) return 'SHARE UPDATE EXCLUSIVE';
      return DROP_LOCKS_TABLE.has(String(body.removeType)) ? 'ACCESS EXCLUSIVE' : undefined;
    case 'AlterTableStmt': {
      const subtypes = [...walk(body.cmds)]
        .filter(([nested]) => nested === 'AlterTableCmd')
        .map(([, cmd]) => String(cmd.subtype ?? ''));
      // ENABLE/DISABLE TRIGGER alone takes SHARE ROW EXCLUSIVE; most other forms ACCESS EXCLUSIVE.
      const triggersOnly =
        subtypes.length > 0 && subtypes.every((subtype) => /^AT_(Enable|Disable)Trig/.test(subtype));
      return triggersOnly ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    }
    case 'RenameStmt':
      return 'ACCESS EXCLUSIVE';
    case 'RefreshMatViewStmt':
      return body.concurrent ? 'EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    case 'CreatePolicyStmt':
    case 'AlterPolicyStmt':
      return 'ACCESS EXCLUSIVE';
    case 'LockStmt':
      // The grammar's default mode is ACCESS EXCLUSIVE (8).
      return LOCK_MODES[typeof body.mode === 'number' ? body.mode : 8];
    default:
      return undefined;
  }
}

/** Option names switched on in a `(NAME [value], …)` list; `(FULL false)` is off. */
function walkDefs(options: unknown): string[] {
  return [...walk(options)].flatMap(([type, def]) => {
    if (type !== 'DefElem') return [];
    const arg = def.arg as { String?: { sval?: string }; Integer?: { ival?: number } } | undefined;
    const value = arg?.String?.sval?.toLowerCase();
    const off = value !== undefined && ['false', 'off', '0', 'no'].includes(value);
    // `(FULL 0)`: the parser leaves a zero out, so an empty Integer is 0.
    const zero = arg?.Integer !== undefined && !arg.Integer.ival;
    return off || zero ? [] : [String(def.defname ?? '').toLowerCase()];
  });
}
