import type pg from 'pg';
import Cursor from 'pg-cursor';
import { errorText } from '../../redact.js';
import { cellText, SERVER_TEXT } from '../../targets/cellText.js';
import { connectionLostText, leftStatementRunning } from '../../targets/connectionErrors.js';
import { connectionLostError } from '../../targets/pools.js';
import { BrokenConnectionError, ReadOnlySession } from '../../targets/readOnly.js';
import type { Target } from '../../targets/target.js';
import type { Verdict } from '../expectations.js';
import type { CheckStep, Risk } from '../model.js';
import type { BoundSetting } from '../procedureParams.js';
import { applySession } from '../sessionSettings.js';
import { readSafety, vouchedFunctions } from './readSafety.js';

/** What a check returned, as text, ready to store and show. */
export interface CheckResult {
  /** `action`: not run, because on this target the statement can act (see readSafety.ts). */
  status: 'ok' | 'error' | 'action';
  columns: string[];
  rows: string[][];
  /** Rows the statement returned in all; more than `rows.length` when cut at the row limit. */
  rowCount: number;
  /** True when the statement had more rows than were fetched. */
  truncated: boolean;
  error?: string;
  /** status `action`: why the statement is not read-only here, e.g. "view public.v calls pg_terminate_backend…". */
  actionReasons?: string[];
  risk?: Risk;
  durationMs: number;
  /** Whether it returned what its step expects (CheckStep.expect); absent when it expects nothing. */
  verdict?: Verdict;
}

export interface CheckToRun {
  step: CheckStep;
  /** Validated values, in `$n` order. */
  values: Array<string | number>;
  /**
   * Functions taken at the author's word; by default those the classifier accepted only
   * because the runbook vouched for them (readonly=).
   */
  vouched?: ReadonlySet<string>;
  /** Functions that must exist on the target for it to run as a check (those the catalog decides). */
  mustExist?: readonly string[];
  /** The role and settings it runs under, for its transaction only. */
  session?: BoundSetting[];
}

/** Rows kept per check: enough to read in a thread or a file, bounded in memory. */
const CHECK_ROW_LIMIT = 500;

/**
 * Runs a procedure's checks in order on one connection, each in its own read-only
 * transaction with the target's timeouts: even a statement misclassified as read-only could
 * not write. READ ONLY does not stop a signal, a reload or dblink, so each statement is first
 * judged against the target's catalog; one that can act there is not run and comes back as
 * status `action` with the reasons. One failing check is a result, not the end of the
 * procedure; a connection lost mid-way is the result of the check it cut ("connection lost
 * (…)") and the checks after it are reported as not run. Throws only when no connection can
 * be had at all.
 */
export async function runChecks(pool: pg.Pool, target: Target, checks: CheckToRun[]): Promise<CheckResult[]> {
  if (checks.length === 0) return [];
  const client = await pool.connect();
  const session = new ReadOnlySession(client);
  const results: CheckResult[] = [];
  let lost: string | undefined;
  try {
    for (const check of checks) {
      const started = performance.now();
      const durationMs = () => Math.round(performance.now() - started);
      if (lost) {
        results.push(errorResult(`not run: ${lost}`, 0));
        continue;
      }
      try {
        const fetched = await session.run(target.settings, async (connection) => {
          // Set first: the role and search_path decide what its names resolve to, and so what
          // the catalog is asked about.
          await applySession(connection, check.session ?? []);
          // What the target's catalog says the statement reaches, before anything runs.
          const safety = await readSafety(
            connection,
            check.step.statement.sql,
            check.vouched ?? vouchedFunctions(check.step.statement.functions),
            { mustExist: check.mustExist },
          );
          return safety.safe ? { status: 'ok' as const, ...(await fetchRows(connection, check)) } : safety;
        });
        if ('safe' in fetched) results.push(notRunAsCheck(fetched.reasons, fetched.risk, durationMs()));
        else results.push({ ...fetched, durationMs: durationMs() });
      } catch (caught) {
        const err = caught instanceof BrokenConnectionError ? caught.original : caught;
        // A dead connection shows in the query's error, or else in the client's own (a
        // server message can arrive before the socket closes). One still running the
        // statement after pg's read timeout cannot run the next check either: anything sent
        // would wait behind it.
        lost =
          connectionLostText(err) ??
          connectionLostText(connectionLostError(client)) ??
          (caught instanceof BrokenConnectionError ? `connection lost (${errorText(err)})` : undefined) ??
          (leftStatementRunning(err) ? `no answer from the target (${errorText(err)})` : undefined);
        results.push(errorResult(lost ?? errorText(err), durationMs()));
      }
    }
    if (!lost)
      await session.close().catch((err: unknown) => {
        lost = errorText(err);
      });
    return results;
  } finally {
    client.release(lost ? new Error(lost) : undefined);
  }
}

function errorResult(error: string, durationMs: number): CheckResult {
  return { status: 'error', columns: [], rows: [], rowCount: 0, truncated: false, error, durationMs };
}

function notRunAsCheck(reasons: string[], risk: Risk, durationMs: number): CheckResult {
  return {
    status: 'action',
    columns: [],
    rows: [],
    rowCount: 0,
    truncated: false,
    error: `not run as a check: ${reasons.join('; ')}`,
    actionReasons: reasons,
    risk,
    durationMs,
  };
}

/** Reads at most CHECK_ROW_LIMIT rows through a cursor, then counts the rest without keeping them. */
async function fetchRows(
  connection: pg.PoolClient,
  check: CheckToRun,
): Promise<Pick<CheckResult, 'columns' | 'rows' | 'rowCount' | 'truncated'>> {
  // As the server writes each value (psql's text), not as pg would parse it.
  const cursor = connection.query(
    new Cursor(check.step.statement.sql, check.values, { rowMode: 'array', types: SERVER_TEXT }),
  );
  let dead = false;
  try {
    const { rows: first, columns } = await readWithColumns(cursor, CHECK_ROW_LIMIT + 1);
    let rowCount = first.length;
    const truncated = first.length > CHECK_ROW_LIMIT;
    if (truncated) {
      for (let batch = await cursor.read(1000); batch.length > 0; batch = await cursor.read(1000))
        rowCount += batch.length;
    }
    return {
      columns,
      rows: first.slice(0, CHECK_ROW_LIMIT).map((row) => row.map((cell) => cellText(cell))),
      rowCount,
      truncated,
    };
  } catch (err) {
    // Closing a cursor waits for the server's answer, which a dead connection never sends,
    // nor one whose statement outlived pg's read timeout (a network gone silent).
    dead =
      connectionLostText(err) !== undefined ||
      connectionLostError(connection) !== undefined ||
      leftStatementRunning(err);
    throw err;
  } finally {
    if (!dead) await cursor.close();
  }
}

/** The callback form of `read` is the one that also hands over the column names. */
function readWithColumns(cursor: Cursor, count: number): Promise<{ rows: unknown[][]; columns: string[] }> {
  return new Promise((resolve, reject) => {
    cursor.read(count, (err, rows, result) => {
      if (err) reject(err);
      else resolve({ rows: rows as unknown[][], columns: result.fields.map((field) => field.name) });
    });
  });
}
