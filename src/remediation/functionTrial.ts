import type pg from 'pg';
import type { ActionStep } from '../runbooks/model.js';
import { applySession } from '../runbooks/sessionSettings.js';
import { knownEffect, READ_SAFE_FUNCTIONS } from '../runbooks/sql/readSafeFunctions.js';
import { cellText } from '../targets/cellText.js';
import { connectionLostText, failureText, leftStatementRunning } from '../targets/connectionErrors.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';
import { PLAN_CELL_CHARS, type PlanBase } from './planModel.js';
import { inRolledBackTransaction, queryArgs } from './session.js';
import { trialSafety } from './trialSafety.js';

/**
 * `SELECT admin_clear_queue('queued')`: a call to the target's own function, which the catalog
 * keeps an action, says nothing of what it does until it runs. When nothing it does escapes a
 * ROLLBACK (trialSafety.ts), the preview runs it in a transaction that is always rolled back,
 * under the target's timeouts, and counts the rows it inserted, updated and deleted per table
 * from pg_stat_xact_user_tables, before and after, in that same transaction (the view also
 * holds counts of earlier transactions of the backend not yet reported, so only the difference
 * is the call's). Execution counts the same way, and holds the count to the approved one.
 */

/** Rows a call changed in one table. */
export interface TableChange {
  table: string;
  inserted: number;
  updated: number;
  deleted: number;
}

export type FunctionTrial =
  | {
      kind: 'tried';
      changes: TableChange[];
      affectedRows: number;
      /** What it would also do, which the rows do not show (a NOTIFY). */
      alsoDoes: string[];
      /** The rows the call returned. */
      returned: { columns: string[]; rows: string[][] };
    }
  /** Not run: why, precisely (an effect a ROLLBACK does not undo, SQL built at run time…). */
  | { kind: 'not tried'; why: string[] }
  /** Run, and it failed: it would most likely fail the same way once approved. */
  | { kind: 'failed'; error: string };

/** The statement calls a function of the target's own: neither a read-safe built-in nor a known effect. */
export function callsOwnFunction(step: ActionStep): boolean {
  return (
    step.statement.kind === 'SELECT' &&
    !step.noTransaction &&
    step.statement.functions.some((name) => !READ_SAFE_FUNCTIONS.has(name) && !knownEffect(name))
  );
}

const RETURNED_ROWS = 5;

type Counts = Map<string, { ins: number; upd: number; del: number }>;

async function countsNow(client: pg.ClientBase): Promise<Counts> {
  const { rows } = await client.query<{ table: string; ins: string; upd: string; del: string }>(
    `SELECT format('%I.%I', schemaname, relname) AS table, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del
       FROM pg_stat_xact_user_tables`,
  );
  return new Map(
    rows.map((row) => [row.table, { ins: Number(row.ins), upd: Number(row.upd), del: Number(row.del) }]),
  );
}

/**
 * Runs `call` and returns what it changed, table by table (most rows first). A table the
 * view did not list before starts from zero.
 */
export async function countingChanges<T>(
  client: pg.ClientBase,
  call: () => Promise<T>,
): Promise<{ value: T; changes: TableChange[]; affectedRows: number }> {
  const before = await countsNow(client);
  const value = await call();
  const changes: TableChange[] = [];
  for (const [table, after] of await countsNow(client)) {
    const was = before.get(table) ?? { ins: 0, upd: 0, del: 0 };
    const change = {
      table,
      inserted: after.ins - was.ins,
      updated: after.upd - was.upd,
      deleted: after.del - was.del,
    };
    if (change.inserted || change.updated || change.deleted) changes.push(change);
  }
  const total = (change: TableChange) => change.inserted + change.updated + change.deleted;
  changes.sort((a, b) => total(b) - total(a) || a.table.localeCompare(b.table));
  return { value, changes, affectedRows: changes.reduce((sum, change) => sum + total(change), 0) };
}

/** "delete 3 rows of public.queue, update 1 row of public.log". */
export function changesText(changes: TableChange[]): string {
  if (changes.length === 0) return 'change no rows';
  return changes
    .map((change) => {
      const verbs = [
        change.deleted ? `delete ${plural(change.deleted, 'row')}` : '',
        change.updated ? `update ${plural(change.updated, 'row')}` : '',
        change.inserted ? `insert ${plural(change.inserted, 'row')}` : '',
      ].filter(Boolean);
      return `${verbs.join(' and ')} of ${change.table}`;
    })
    .join(', ');
}

/** Tries the call in a transaction that is rolled back, when that is safe. */
export async function tryFunctionCall(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  values: Array<string | number>,
  base: PlanBase,
): Promise<FunctionTrial> {
  return inRolledBackTransaction(client, target.settings, false, async (): Promise<FunctionTrial> => {
    await applySession(client, base.session ?? []);
    const counting = await client.query<{ on: boolean }>(
      "SELECT current_setting('track_counts')::bool AS on",
    );
    if (!counting.rows[0]?.on)
      return {
        kind: 'not tried',
        why: ['track_counts is off on the target, so the rows it changes cannot be counted'],
      };
    const safety = await trialSafety(client, step.statement.sql);
    if (!safety.safe) return { kind: 'not tried', why: safety.reasons };
    let counted: Awaited<ReturnType<typeof countingChanges<pg.QueryResult>>>;
    try {
      counted = await countingChanges(client, () =>
        client.query({ text: step.statement.sql, values: queryArgs(values), rowMode: 'array' }),
      );
    } catch (err) {
      // The ROLLBACK that follows leaves the connection clean; a lost one is the caller's, as
      // is one still running the statement after pg's read timeout (nothing can follow it).
      if (connectionLostText(err) || leftStatementRunning(err)) throw err;
      return { kind: 'failed', error: failureText(err) };
    }
    const { value, changes, affectedRows } = counted;
    return {
      kind: 'tried',
      changes,
      affectedRows,
      alsoDoes: safety.alsoDoes,
      returned: {
        columns: value.fields.map((field) => field.name),
        rows: (value.rows as unknown[][])
          .slice(0, RETURNED_ROWS)
          .map((row) => row.map((cell) => cellText(cell, PLAN_CELL_CHARS))),
      },
    };
  });
}
