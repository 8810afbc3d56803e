import { createHash } from 'node:crypto';
import type pg from 'pg';
import { readSafety } from '../runbooks/execute/readSafety.js';
import type { ActionStep, SignalScope } from '../runbooks/model.js';
import { knownEffect, READ_SAFE_FUNCTIONS } from '../runbooks/sql/readSafeFunctions.js';
import { cellText } from '../targets/cellText.js';
import type { Target } from '../targets/target.js';
import { type ExecutionLimits, limitsFor } from './limits.js';
import { findNoOp } from './noOp.js';
import { PlanError } from './planError.js';
import { type RowSecurityRevert, rowSecurityDisabled, rowSecurityRefusal } from './rowSecurity.js';
import { inRolledBackTransaction, queryArgs, withConnection } from './session.js';
import { backendsSql, type SignalFunction, signalCall } from './signalQuery.js';
import { type PlanMode, type StatementShape, statementShape } from './statementShape.js';
import { equivalentSelect, firingObjects, writtenExpressions } from './triggerSafePreview.js';

export { PlanError } from './planError.js';

/** A backend a signalling action would reach, as pg_stat_activity shows it. */
export interface BackendRow {
  pid: number;
  user: string | null;
  /** The database the backend is connected to. */
  database: string | null;
  application: string | null;
  state: string | null;
  ageSeconds: number | null;
  query: string;
}

/**
 * Why a plan offers no approval: it would do nothing (0 rows, no backend, an IF EXISTS whose
 * object is missing), or it is over a limit that execution would enforce anyway.
 */
export interface PlanBlock {
  /** not_allowed: this target's rules refuse it (disabling row-level security on production). */
  kind: 'nothing_to_do' | 'over_limit' | 'not_allowed';
  reason: string;
}

/**
 * What an action would do on a target, computed without effects outside a rolled-back
 * transaction. The approval is for this plan: execution re-computes it and stops when what
 * it touches changed (see `materialChange` in execute.ts).
 */
export interface Plan {
  target: string;
  /** Exactly what will be sent ($n placeholders). For signal plans, the runbook's statement as approved. */
  sql: string;
  /** Bound values, in $n order. */
  params: Array<string | number>;
  mode: PlanMode;
  /** One line for people: "UPDATE would change 3 rows", "would terminate 2 backends". */
  summary: string;
  /** dml: rows changed when run in a transaction that was rolled back. */
  affectedRows?: number;
  /** dml: up to 5 affected rows (after the change), when the statement can be wrapped. */
  sample?: { columns: string[]; rows: string[][] };
  /** signal: the backends that would be signalled, found without calling the signalling function. */
  backends?: BackendRow[];
  /** signal: backends the statement selects that the bot never signals, and why. */
  excluded?: Array<{ pid: number; reason: string }>;
  /**
   * dml: user triggers and rules the statement would fire, which the preview did not: it
   * counted and sampled through the equivalent SELECT instead of running the statement.
   */
  notFired?: string[];
  /** Table lock taken, for statements that are described rather than previewed. */
  lockLevel?: string;
  /** DML: the most rows it may change, and who set that limit (the procedure or the target). */
  rowLimit?: { rows: number; setBy: string };
  /** signal: the target's database, and whether backends of other databases may be reached. */
  signalScope?: { scope: SignalScope; database: string };
  /** Set when the plan must not be approved: there is nothing to do, or it is over a limit. */
  blocked?: PlanBlock;
  /** Why the preview found it riskier than its statement alone says (e.g. how many rows). */
  riskRaised?: string;
  /** A change the bot undoes by itself after a while (row-level security turned back on). */
  revert?: RowSecurityRevert;
  noTransaction: boolean;
  /** What it touches: dml → affected row count; signal → sorted pids; else 'static'. */
  fingerprint: string;
  /** sha256 hex of JSON [sql, params, target, fingerprint]. */
  hash: string;
}

/** The plan of an action with these values, on a connection from `pool` (the remediation pool). */
export async function computePlan(
  pool: pg.Pool,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  limits: ExecutionLimits = limitsFor(target, step),
): Promise<Plan> {
  return withConnection(pool, (client) => planOn(client, target, step, values, limits));
}

/** As `computePlan`, on a connection the caller holds (execution re-checks on its own connection). */
export async function planOn(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  limits: ExecutionLimits = limitsFor(target, step),
): Promise<Plan> {
  const { statement } = step;
  // The preview and the execution run as the bot: a change meant to run as another role or
  // with request settings (an RLS trial as a user) would run as someone else.
  if (statement.session?.length)
    throw new PlanError(
      'this step runs under SET ROLE or session settings, which the bot does not apply to a change; run it by hand inside BEGIN … ROLLBACK',
    );
  if (values.length !== statement.params.length)
    throw new PlanError(`the statement takes ${statement.params.length} values; ${values.length} given`);
  const shape = statementShape(step);
  const base = { target: target.name, sql: statement.sql, params: values, noTransaction: step.noTransaction };
  switch (shape.mode) {
    case 'signal':
      return signalPlan(client, target, step, values, base, limits);
    case 'dml':
      return dmlPlan(client, target, step, values, shape, base, limits);
    default:
      return describedPlan(client, target, step, shape, base, limits);
  }
}

/**
 * DML of this many rows or more is high risk whatever its WHERE says: the preview's count
 * shows it reaches a whole set (a queue, a status), not a few rows picked by key.
 */
export const WIDE_DML_ROWS = 100;

const DML_KINDS = new Set(['UPDATE', 'DELETE', 'INSERT', 'MERGE']);

function rowLimit(limits: ExecutionLimits): { rows: number; setBy: string } {
  return { rows: limits.maxRows, setBy: limits.rowLimitSetBy ?? 'the bot' };
}

/**
 * Statements described rather than previewed (DDL, VACUUM, unknown functions): an IF EXISTS
 * whose object is missing (or an IF NOT EXISTS whose object is there) is looked up in the
 * catalog, read-only, so a statement that would only say "skipping" is "nothing to do".
 */
async function describedPlan(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  shape: StatementShape,
  base: PlanBase,
  limits: ExecutionLimits,
): Promise<Plan> {
  const noOp = await inRolledBackTransaction(client, target.settings, true, () =>
    findNoOp(client, step.statement.sql),
  );
  const skipped = noOp.skipped ? `; would skip ${noOp.skipped.join(', ')} (missing)` : '';
  // Row-level security never goes off for good: refused on production, re-enabled by the bot elsewhere.
  const revert = rowSecurityDisabled(step.statement.sql);
  const refused = revert && rowSecurityRefusal(target, revert);
  const blocked: PlanBlock | undefined = noOp.nothingToDo
    ? { kind: 'nothing_to_do', reason: noOp.nothingToDo }
    : refused
      ? { kind: 'not_allowed', reason: refused }
      : undefined;
  const reverting =
    revert && !blocked
      ? `; row-level security is turned back on by the bot ${Math.round(revert.afterMs / 60_000)} min after it runs (${revert.sql})`
      : '';
  return finish(
    {
      ...base,
      mode: shape.mode as PlanMode,
      lockLevel: shape.lockLevel,
      summary: noOp.nothingToDo
        ? `nothing to do: ${noOp.nothingToDo}`
        : `${describe(step, shape)}${skipped}${reverting}`,
      ...(DML_KINDS.has(step.statement.kind) ? { rowLimit: rowLimit(limits) } : {}),
      ...(blocked ? { blocked } : {}),
      ...(revert && !blocked ? { revert } : {}),
    },
    'static',
  );
}

type PlanBase = Pick<Plan, 'target' | 'sql' | 'params' | 'noTransaction'>;

/** The hash an approval refers to: the statement, its values, the target and what it touches. */
export function planHash(plan: Pick<Plan, 'sql' | 'params' | 'target' | 'fingerprint'>): string {
  return createHash('sha256')
    .update(JSON.stringify([plan.sql, plan.params, plan.target, plan.fingerprint]))
    .digest('hex');
}

function finish(plan: Omit<Plan, 'fingerprint' | 'hash'>, fingerprint: string): Plan {
  return { ...plan, fingerprint, hash: planHash({ ...plan, fingerprint }) };
}

/** A copy of a dml plan with another row count (what execution actually saw), sample dropped. */
export function withAffectedRows(
  plan: Plan,
  step: ActionStep,
  affectedRows: number,
  limits: ExecutionLimits,
): Plan {
  const {
    fingerprint: _fingerprint,
    hash: _hash,
    sample: _sample,
    blocked: _blocked,
    riskRaised: _riskRaised,
    ...rest
  } = plan;
  return finish(
    {
      ...rest,
      affectedRows,
      summary: dmlSummary(step.statement.kind, affectedRows),
      ...dmlAssessment(affectedRows, limits),
    },
    String(affectedRows),
  );
}

/** Sample cells and query texts in a plan are cut here: the plan is stored and shown whole. */
const PLAN_CELL_CHARS = 200;

const SIGNAL_VERBS: Record<SignalFunction, string> = {
  pg_terminate_backend: 'terminate',
  pg_cancel_backend: 'cancel the queries of',
};

/**
 * The backends the statement would signal: its FROM/WHERE evaluated with the call replaced
 * by its argument, in a READ ONLY transaction, minus the bot's own sessions, superusers and
 * non-client backends.
 */
async function signalPlan(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  base: PlanBase,
  limits: ExecutionLimits,
): Promise<Plan> {
  const call = signalCall(step.statement.sql);
  const scope: SignalScope = step.signalScope ?? 'database';
  const result = await inRolledBackTransaction(client, target.settings, true, async () => {
    // Evaluating its FROM/WHERE reads through views and policies that may act themselves.
    const safety = await readSafety(client, call.pidQuery);
    if (!safety.safe)
      throw new PlanError(
        `which backends it would signal cannot be evaluated safely on this target: ${safety.reasons.join('; ')}`,
      );
    const here = await client.query<{ db: string }>('SELECT current_database() AS db');
    const found = await client.query(backendsSql(call.pidQuery, scope), queryArgs(values));
    return { rows: found.rows, database: here.rows[0]?.db ?? '' };
  });
  const backends: BackendRow[] = [];
  const excluded: Array<{ pid: number; reason: string }> = [];
  for (const row of result.rows as Array<Record<string, unknown>>) {
    const pid = Number(row.pid);
    if (typeof row.excluded === 'string') excluded.push({ pid, reason: row.excluded });
    else
      backends.push({
        pid,
        user: nullableText(row.usename),
        database: nullableText(row.datname),
        application: nullableText(row.application_name),
        state: nullableText(row.state),
        ageSeconds:
          row.age_seconds === null || row.age_seconds === undefined ? null : Number(row.age_seconds),
        query: cellText(row.query ?? '', PLAN_CELL_CHARS),
      });
  }
  const verb = SIGNAL_VERBS[call.fn];
  const excludedNote =
    excluded.length > 0
      ? ` (${excluded.length} more excluded: ${[...new Set(excluded.map((e) => e.reason))].join(', ')})`
      : '';
  const where =
    scope === 'server'
      ? 'of any database on the server (signal_scope=server)'
      : `of database ${result.database}`;
  const blocked: PlanBlock | undefined =
    backends.length === 0
      ? {
          kind: 'nothing_to_do',
          reason: `no backend ${where} matches, or every match is one the bot never signals`,
        }
      : backends.length > limits.maxBackends
        ? {
            kind: 'over_limit',
            reason: `it would signal ${backends.length} backends; the limit is ${limits.maxBackends}. Narrow its WHERE`,
          }
        : undefined;
  return finish(
    {
      ...base,
      mode: 'signal',
      summary:
        blocked?.kind === 'nothing_to_do'
          ? `nothing to do: ${blocked.reason}${excludedNote}`
          : `would ${verb} ${plural(backends.length, 'backend')} ${where}${excludedNote}`,
      backends,
      excluded,
      signalScope: { scope, database: result.database },
      ...(blocked ? { blocked } : {}),
    },
    pidFingerprint(backends.map((backend) => backend.pid)),
  );
}

/** The defaults and CHECK constraints of what the statement writes that could act, with why. */
async function unsafeExpressions(client: pg.PoolClient, sql: string): Promise<string[]> {
  const unsafe: string[] = [];
  for (const expression of await writtenExpressions(client, sql)) {
    const safety = await readSafety(client, `SELECT ${expression.sql}`);
    if (!safety.safe) unsafe.push(`${expression.label} (${safety.reasons.join('; ')})`);
  }
  return unsafe;
}

function pidFingerprint(pids: number[]): string {
  return [...pids].sort((a, b) => a - b).join(',');
}

/**
 * Runs the DML in a transaction that is rolled back: its row count is the count. The sample
 * runs after rolling back to a savepoint, so it sees the table as the statement would; a
 * sample that fails (a statement that cannot be wrapped) is left out, not an error.
 * A sequence advanced by a `nextval` column default is the one effect a ROLLBACK does not undo.
 *
 * Before that, the target's catalog is consulted (DESIGN.md principle 8): a function the
 * statement reaches that can act outside the transaction (a user overload, a policy) means
 * it is described, not run; a user trigger or rule on what it writes means it is counted and
 * sampled through the equivalent SELECT, or described when there is none (INSERT, MERGE); so
 * does a column default or CHECK constraint (the table's or a domain's) that is not read-safe.
 */
async function dmlPlan(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  shape: StatementShape,
  base: PlanBase,
  limits: ExecutionLimits,
): Promise<Plan> {
  const args = queryArgs(values);
  const preview = await inRolledBackTransaction(client, target.settings, false, async () => {
    const safety = await readSafety(client, step.statement.sql, new Set(), { dml: true });
    if (!safety.safe) return { kind: 'described' as const, why: safety.reasons };
    const notFired = [
      ...(await firingObjects(client, step.statement.sql)),
      ...(await unsafeExpressions(client, step.statement.sql)),
    ];
    if (notFired.length > 0) {
      const counted = await countWithoutRunning(client, step, values);
      return counted
        ? { kind: 'counted' as const, ...counted, notFired }
        : { kind: 'described' as const, why: notFired.map((name) => `it would fire ${name}`) };
    }
    await client.query('SAVEPOINT rb_preview');
    const result = await client.query(step.statement.sql, args);
    const affectedRows = result.rowCount ?? result.rows.length;
    if (!shape.sampleSql) return { kind: 'ran' as const, affectedRows, sample: undefined };
    await client.query('ROLLBACK TO SAVEPOINT rb_preview');
    try {
      const sampled = await client.query({ text: shape.sampleSql, values: args, rowMode: 'array' });
      return { kind: 'ran' as const, affectedRows, sample: sampleOf(sampled) };
    } catch {
      await client.query('ROLLBACK TO SAVEPOINT rb_preview');
      return { kind: 'ran' as const, affectedRows, sample: undefined };
    }
  });
  if (preview.kind === 'described')
    // Run, once approved, as a described statement: in one transaction, within the row limit.
    return finish(
      {
        ...base,
        mode: 'statement',
        summary: `${step.statement.kind} not run for the preview: ${preview.why.join('; ')}`,
        rowLimit: rowLimit(limits),
      },
      'static',
    );
  const summary =
    preview.kind === 'counted'
      ? `${dmlSummary(shape.verb, preview.affectedRows)} (counted with the equivalent SELECT, without running it: ${preview.notFired.join(', ')} not fired)`
      : dmlSummary(shape.verb, preview.affectedRows);
  return finish(
    {
      ...base,
      mode: 'dml',
      summary,
      affectedRows: preview.affectedRows,
      sample: preview.sample,
      notFired: preview.kind === 'counted' ? preview.notFired : undefined,
      ...dmlAssessment(preview.affectedRows, limits),
    },
    String(preview.affectedRows),
  );
}

/** The limit a DML plan is held to, and what its count says: nothing to do, over the limit, high risk. */
function dmlAssessment(
  rows: number,
  limits: ExecutionLimits,
): Pick<Plan, 'rowLimit' | 'blocked' | 'riskRaised'> {
  const limit = rowLimit(limits);
  const blocked: PlanBlock | undefined =
    rows === 0
      ? { kind: 'nothing_to_do', reason: 'it would change no rows' }
      : rows > limit.rows
        ? {
            kind: 'over_limit',
            reason: `it would change ${rows.toLocaleString('en-US')} rows, more than its limit of ${limit.rows.toLocaleString('en-US')} (set by ${limit.setBy}). Narrow its WHERE, or raise max_rows for the procedure (annotation) or the target (targets file)`,
          }
        : undefined;
  return {
    rowLimit: limit,
    ...(blocked ? { blocked } : {}),
    ...(rows >= WIDE_DML_ROWS
      ? { riskRaised: `it would change ${rows.toLocaleString('en-US')} rows (${WIDE_DML_ROWS} or more)` }
      : {}),
  };
}

function sampleOf(sampled: pg.QueryResult): { columns: string[]; rows: string[][] } {
  return {
    columns: sampled.fields.map((field) => field.name),
    rows: (sampled.rows as unknown[][]).map((row) => row.map((cell) => cellText(cell, PLAN_CELL_CHARS))),
  };
}

/**
 * The rows an UPDATE or DELETE would change, counted and sampled (as they are now) with the
 * equivalent SELECT; undefined when there is none, or it fails (a view as the target).
 */
async function countWithoutRunning(
  client: pg.PoolClient,
  step: ActionStep,
  values: Array<string | number>,
): Promise<{ affectedRows: number; sample?: { columns: string[]; rows: string[][] } } | undefined> {
  const select = equivalentSelect(step.statement.sql, values.length, SAMPLE_ROWS);
  if (!select) return undefined;
  const args = queryArgs(values);
  await client.query('SAVEPOINT rb_count');
  try {
    const counted = await client.query<{ n: number }>(select.countSql, args);
    const sampled = await client.query({ text: select.sampleSql, values: args, rowMode: 'array' });
    return { affectedRows: counted.rows[0]?.n ?? 0, sample: sampleOf(sampled) };
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT rb_count');
    return undefined;
  }
}

const SAMPLE_ROWS = 5;

const DML_VERBS: Record<string, string> = { DELETE: 'delete', INSERT: 'insert' };

function dmlSummary(verb: string, rows: number): string {
  const what = DML_VERBS[verb] ?? 'change';
  return `${verb} would ${what} ${plural(rows, 'row')}`;
}

/** Why a statement is described rather than previewed, in one line. */
function describe(step: ActionStep, shape: StatementShape): string {
  const { kind, functions } = step.statement;
  const parts = [`${kind} ${step.noTransaction ? 'runs outside a transaction' : 'runs in a transaction'}`];
  if (shape.lockLevel) parts.push(`takes ${shape.lockLevel}`);
  const effects = functions.filter((name) => knownEffect(name));
  const unknown = functions.filter((name) => !READ_SAFE_FUNCTIONS.has(name) && !knownEffect(name));
  if (effects.length > 0) parts.push(`calls ${effects.join(', ')}`);
  if (unknown.length > 0) parts.push(`calls ${unknown.join(', ')}, which the bot cannot preview`);
  parts.push('not run for the preview');
  return parts.join('; ');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function nullableText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
