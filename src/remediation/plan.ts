import { createHash } from 'node:crypto';
import type pg from 'pg';
import { readSafety } from '../runbooks/execute/readSafety.js';
import type { ActionStep } from '../runbooks/model.js';
import { knownEffect, READ_SAFE_FUNCTIONS } from '../runbooks/sql/readSafeFunctions.js';
import { cellText } from '../targets/cellText.js';
import type { Target } from '../targets/target.js';
import { PlanError } from './planError.js';
import { inRolledBackTransaction, queryArgs, withConnection } from './session.js';
import { backendsSql, type SignalFunction, signalCall } from './signalQuery.js';
import { type PlanMode, type StatementShape, statementShape } from './statementShape.js';
import { equivalentSelect, firingObjects, writtenExpressions } from './triggerSafePreview.js';

export { PlanError } from './planError.js';

/** A backend a signalling action would reach, as pg_stat_activity shows it. */
export interface BackendRow {
  pid: number;
  user: string | null;
  application: string | null;
  state: string | null;
  ageSeconds: number | null;
  query: string;
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
): Promise<Plan> {
  return withConnection(pool, (client) => planOn(client, target, step, values));
}

/** As `computePlan`, on a connection the caller holds (execution re-checks on its own connection). */
export async function planOn(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
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
      return signalPlan(client, target, step, values, base);
    case 'dml':
      return dmlPlan(client, target, step, values, shape, base);
    default:
      return finish(
        { ...base, mode: shape.mode, lockLevel: shape.lockLevel, summary: describe(step, shape) },
        'static',
      );
  }
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
export function withAffectedRows(plan: Plan, step: ActionStep, affectedRows: number): Plan {
  const { fingerprint: _fingerprint, hash: _hash, sample: _sample, ...rest } = plan;
  return finish(
    { ...rest, affectedRows, summary: dmlSummary(step.statement.kind, affectedRows) },
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
): Promise<Plan> {
  const call = signalCall(step.statement.sql);
  const result = await inRolledBackTransaction(client, target.settings, true, async () => {
    // Evaluating its FROM/WHERE reads through views and policies that may act themselves.
    const safety = await readSafety(client, call.pidQuery);
    if (!safety.safe)
      throw new PlanError(
        `which backends it would signal cannot be evaluated safely on this target: ${safety.reasons.join('; ')}`,
      );
    return client.query(backendsSql(call.pidQuery), queryArgs(values));
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
  return finish(
    {
      ...base,
      mode: 'signal',
      summary: `would ${verb} ${plural(backends.length, 'backend')}${excludedNote}`,
      backends,
      excluded,
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
    },
    String(preview.affectedRows),
  );
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
