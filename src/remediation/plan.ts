import type pg from 'pg';
import { readSafety } from '../runbooks/execute/readSafety.js';
import type { ActionStep, Step } from '../runbooks/model.js';
import type { BoundSetting } from '../runbooks/procedureParams.js';
import { applySession, sessionWords } from '../runbooks/sessionSettings.js';
import { knownEffect, READ_SAFE_FUNCTIONS } from '../runbooks/sql/readSafeFunctions.js';
import { cellText, SERVER_TEXT } from '../targets/cellText.js';
import { leftStatementRunning } from '../targets/connectionErrors.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';
import { boundedPlan } from './batches.js';
import { callsOwnFunction, changesText, type FunctionTrial, tryFunctionCall } from './functionTrial.js';
import { type ExecutionLimits, limitsFor } from './limits.js';
import { missingObjectsPlan } from './missingObjects.js';
import { findNoOp } from './noOp.js';
import { PlanError } from './planError.js';
import {
  finish,
  PLAN_CELL_CHARS,
  type Plan,
  type PlanBase,
  type PlanBlock,
  type PlanSample,
  rowLimit,
} from './planModel.js';
import { rowSecurityDisabled, rowSecurityRefusal } from './rowSecurity.js';
import { inRolledBackTransaction, queryArgs, withConnection } from './session.js';
import { signalPlan } from './signalPlan.js';
import { type PlanMode, type StatementShape, statementShape } from './statementShape.js';
import { equivalentSelect, firingObjects, writtenExpressions } from './triggerSafePreview.js';

export { PlanError } from './planError.js';
export type { BackendRow, Plan, PlanBlock } from './planModel.js';
export { planHash } from './planModel.js';

/** The plan of an action with these values, on a connection from `pool` (the remediation pool). */
export async function computePlan(
  pool: pg.Pool,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  limits: ExecutionLimits = limitsFor(target, step),
  session: BoundSetting[] = [],
  earlier: readonly Step[] = [],
): Promise<Plan> {
  return withConnection(pool, (client) => planOn(client, target, step, values, limits, session, earlier));
}

/**
 * As `computePlan`, on a connection the caller holds (execution re-checks on its own connection).
 * `earlier`: the steps before it in its procedure, whose objects a preview does not call missing.
 */
export async function planOn(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  limits: ExecutionLimits = limitsFor(target, step),
  session: BoundSetting[] = [],
  earlier: readonly Step[] = [],
): Promise<Plan> {
  const { statement } = step;
  if (values.length !== statement.params.length)
    throw new PlanError(
      `the statement takes ${plural(statement.params.length, 'value')}; ${values.length} given`,
    );
  if ((statement.session?.length ?? 0) !== session.length)
    throw new PlanError(
      `the statement runs under ${statement.session?.length ?? 0} settings; ${session.length} given`,
    );
  const shape = statementShape(step);
  // A signal acts outside any transaction, and VACUUM-like statements run outside one: a role
  // set for a transaction would not hold for them, so they are not run under one at all.
  if (session.length > 0 && (shape.mode === 'signal' || shape.mode === 'no-transaction'))
    throw new PlanError(
      `${statement.kind} cannot run under SET ROLE or request settings (they hold for a transaction, and it does not run in one); run it without them`,
    );
  const base = {
    target: target.name,
    sql: statement.sql,
    params: values,
    noTransaction: step.noTransaction,
    ...(session.length > 0 ? { session } : {}),
  };
  // A statement naming what the target lacks would only fail once approved: no approval offered.
  const missing =
    shape.mode === 'signal'
      ? undefined
      : await missingObjectsPlan(client, target, step, shape.mode, base, earlier);
  // A call to the target's own function is tried, rolled back, when nothing it does escapes that.
  const trial =
    !missing && shape.mode === 'statement' && callsOwnFunction(step)
      ? await tryFunctionCall(client, target, step, values, base)
      : undefined;
  const plan = missing
    ? missing
    : trial?.kind === 'tried'
      ? trialPlan(step, trial, base, limits)
      : shape.mode === 'signal'
        ? await signalPlan(client, target, step, values, base, limits)
        : shape.mode === 'dml'
          ? await boundedPlan(
              client,
              target,
              step,
              await dmlPlan(client, target, step, values, shape, base, limits),
              limits,
            )
          : await describedPlan(client, target, step, shape, base, limits, trial);
  // Summary words only: the hash covers the settings themselves.
  return session.length > 0 ? { ...plan, summary: `${plan.summary} (${sessionWords(session)})` } : plan;
}

/**
 * DML of this many rows or more is high risk whatever its WHERE says: the preview's count
 * shows it reaches a whole set (a queue, a status), not a few rows picked by key.
 */
export const WIDE_DML_ROWS = 100;

const DML_KINDS = new Set(['UPDATE', 'DELETE', 'INSERT', 'MERGE']);

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
  trial?: FunctionTrial,
): Promise<Plan> {
  const noOp = await inRolledBackTransaction(client, target.settings, true, async () => {
    await applySession(client, base.session ?? []);
    return findNoOp(client, step.statement.sql);
  });
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
        : `${describe(step, shape, trial)}${skipped}${reverting}`,
      ...(DML_KINDS.has(step.statement.kind) ? { rowLimit: rowLimit(limits) } : {}),
      ...(blocked ? { blocked } : {}),
      ...(revert && !blocked ? { revert } : {}),
    },
    'static',
  );
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

/** The defaults and CHECK constraints of what the statement writes that could act, with why. */
async function unsafeExpressions(client: pg.PoolClient, sql: string): Promise<string[]> {
  const unsafe: string[] = [];
  for (const expression of await writtenExpressions(client, sql)) {
    const safety = await readSafety(client, `SELECT ${expression.sql}`);
    if (!safety.safe) unsafe.push(`${expression.label} (${safety.reasons.join('; ')})`);
  }
  return unsafe;
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
    // As whom it runs decides what its names resolve to and which rows its policies let through.
    await applySession(client, base.session ?? []);
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
      // RETURNING gives a DELETE's rows as they were, an UPDATE's and an INSERT's as they become.
      const when = shape.verb === 'DELETE' ? 'before' : 'after';
      return {
        kind: 'ran' as const,
        affectedRows,
        sample: await sampleRows(client, shape.sampleSql, args, shape.verb, when),
      };
    } catch (err) {
      // Nothing more is sent behind a statement still running (see leftStatementRunning).
      if (leftStatementRunning(err)) throw err;
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
            reason: `it would change ${plural(rows, 'row')}, more than its limit of ${limit.rows.toLocaleString('en-US')} (set by ${limit.setBy}). Narrow its WHERE, or raise max_rows for the procedure (annotation) or the target (targets file)`,
          }
        : undefined;
  return {
    rowLimit: limit,
    ...(blocked ? { blocked } : {}),
    ...(rows >= WIDE_DML_ROWS
      ? { riskRaised: `it would change ${plural(rows, 'row')} (${WIDE_DML_ROWS} or more)` }
      : {}),
  };
}

/** The sampled rows as the server writes them, saying which rows they are and whether before or after the change. */
async function sampleRows(
  client: pg.PoolClient,
  sql: string,
  args: ReturnType<typeof queryArgs>,
  verb: string,
  when: 'before' | 'after',
): Promise<PlanSample> {
  const sampled = await client.query({ text: sql, values: args, rowMode: 'array', types: SERVER_TEXT });
  const rows = (sampled.rows as unknown[][]).map((row) => row.map((cell) => cellText(cell, PLAN_CELL_CHARS)));
  const which = rows.length < SAMPLE_ROWS ? 'the rows' : `the first ${SAMPLE_ROWS} rows`;
  const state = when === 'after' ? 'as they would be after the change' : 'as they are now, before the change';
  return {
    columns: sampled.fields.map((field) => field.name),
    rows,
    when,
    caption: `${which} it would ${DML_VERBS[verb] ?? 'change'}, ${state}`,
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
): Promise<{ affectedRows: number; sample?: PlanSample } | undefined> {
  const select = equivalentSelect(step.statement.sql, values.length, SAMPLE_ROWS);
  if (!select) return undefined;
  const args = queryArgs(values);
  await client.query('SAVEPOINT rb_count');
  try {
    const counted = await client.query<{ n: number }>(select.countSql, args);
    const sample = await sampleRows(client, select.sampleSql, args, step.statement.kind, 'before');
    return { affectedRows: counted.rows[0]?.n ?? 0, sample };
  } catch (err) {
    if (leftStatementRunning(err)) throw err;
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

/**
 * The plan of a call tried in a rolled-back transaction: its rows held to the rules of DML.
 * A call that changes no rows but does something else a ROLLBACK hides (a NOTIFY) is not
 * "nothing to do".
 */
function trialPlan(
  step: ActionStep,
  trial: FunctionTrial & { kind: 'tried' },
  base: PlanBase,
  limits: ExecutionLimits,
): Plan {
  const { blocked, ...assessment } = dmlAssessment(trial.affectedRows, limits);
  const acts = blocked?.kind !== 'nothing_to_do' || trial.alsoDoes.length === 0;
  const also = trial.alsoDoes.length > 0 ? `; it also ${trial.alsoDoes.join(', ')}` : '';
  return finish(
    {
      ...base,
      mode: 'trial',
      summary: `${step.statement.kind} would ${changesText(trial.changes)} (tried in a transaction that was rolled back)${also}`,
      affectedRows: trial.affectedRows,
      changes: trial.changes,
      sample: trial.returned,
      ...assessment,
      ...(blocked && acts ? { blocked } : {}),
    },
    String(trial.affectedRows),
  );
}

/** Why a statement is described rather than previewed, in one line. */
function describe(step: ActionStep, shape: StatementShape, trial?: FunctionTrial): string {
  const { kind, functions } = step.statement;
  const parts = [`${kind} ${step.noTransaction ? 'runs outside a transaction' : 'runs in a transaction'}`];
  if (shape.lockLevel) parts.push(`takes ${shape.lockLevel}`);
  const effects = functions.filter((name) => knownEffect(name));
  const unknown = functions.filter((name) => !READ_SAFE_FUNCTIONS.has(name) && !knownEffect(name));
  if (effects.length > 0) parts.push(`calls ${effects.join(', ')}`);
  if (unknown.length > 0)
    parts.push(
      trial?.kind === 'not tried'
        ? `calls ${unknown.join(', ')}, not tried in a rolled-back transaction: ${trial.why.join('; ')}`
        : trial?.kind === 'failed'
          ? `calls ${unknown.join(', ')}, which failed when tried in a rolled-back transaction (${trial.error})`
          : `calls ${unknown.join(', ')}, which the bot cannot preview`,
    );
  parts.push('not run for the preview');
  return parts.join('; ');
}
