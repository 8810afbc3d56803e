import { createHash } from 'node:crypto';
import type { SignalScope } from '../runbooks/model.js';
import type { BoundSetting } from '../runbooks/procedureParams.js';
import type { TableChange } from './functionTrial.js';
import type { ExecutionLimits } from './limits.js';
import type { RowSecurityRevert } from './rowSecurity.js';
import type { PlanMode } from './statementShape.js';

/**
 * The plan of an action, as previews show it and approvals refer to it (its hash), and what
 * every kind of plan is built with.
 */

/** Sample cells and query texts in a plan are cut here: the plan is stored and shown whole. */
export const PLAN_CELL_CHARS = 200;

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
  /**
   * not_allowed: this target's rules refuse it (disabling row-level security on production);
   * missing_objects: it names a table or function the target does not have, so it would fail.
   */
  kind: 'nothing_to_do' | 'over_limit' | 'not_allowed' | 'missing_objects';
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
  /** dml: up to 5 affected rows, when they can be had, and whether they show them before or after the change; trial: up to 5 rows the call returned. */
  sample?: PlanSample;
  /** trial: the rows the call changed, per table (its affectedRows is their sum). */
  changes?: TableChange[];
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
  /**
   * dml over its row limit, allowed to run in batches: how. Each batch is its own transaction
   * of at most `size` rows, walking `key` in order; all batches together change at most
   * `maxRows` (the previewed count and the drift an execution tolerates).
   */
  batches?: PlannedBatches;
  /** signal: the target's database, and whether backends of other databases may be reached. */
  signalScope?: { scope: SignalScope; database: string };
  /** Set when the plan must not be approved: there is nothing to do, or it is over a limit. */
  blocked?: PlanBlock;
  /** Why the preview found it riskier than its statement alone says (e.g. how many rows). */
  riskRaised?: string;
  /**
   * The role and request settings it runs under (`SET ROLE authenticated`, the JWT claim),
   * bound: the approval covers them as it covers the values.
   */
  session?: BoundSetting[];
  /** A change the bot undoes by itself after a while (row-level security turned back on). */
  revert?: RowSecurityRevert;
  noTransaction: boolean;
  /** What it touches: dml, trial → affected row count; signal → sorted pids; else 'static'. */
  fingerprint: string;
  /** sha256 hex of JSON [sql, params, target, fingerprint]. */
  hash: string;
}

export interface PlannedBatches {
  count: number;
  size: number;
  /** The table's primary key (or unique NOT NULL index) columns, in order. */
  key: Array<{ name: string; type: string }>;
  /** The most rows all batches together may change. */
  maxRows: number;
  /** Who allowed batches: the procedure (batched=yes) or the target (batched_dml). */
  allowedBy: string;
}

export interface PlanSample {
  columns: string[];
  rows: string[][];
  /** Absent in plans stored before it was recorded. */
  when?: 'before' | 'after';
  /** What the rows are, in words: "the first rows it would change, as they would be after the change". */
  caption?: string;
}

export type PlanBase = Pick<Plan, 'target' | 'sql' | 'params' | 'noTransaction' | 'session'>;

/** The hash an approval refers to: the statement, its values, the target and what it touches. */
export function planHash(plan: Pick<Plan, 'sql' | 'params' | 'target' | 'fingerprint' | 'session'>): string {
  // The session joins the hash only when there is one: plans without keep the hash they had.
  const parts = [
    plan.sql,
    plan.params,
    plan.target,
    plan.fingerprint,
    ...(plan.session?.length ? [plan.session] : []),
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export function finish(plan: Omit<Plan, 'fingerprint' | 'hash'>, fingerprint: string): Plan {
  return { ...plan, fingerprint, hash: planHash({ ...plan, fingerprint }) };
}

export function rowLimit(limits: ExecutionLimits): { rows: number; setBy: string } {
  return { rows: limits.maxRows, setBy: limits.rowLimitSetBy ?? 'the bot' };
}

export function nullableText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
