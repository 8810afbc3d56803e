import { BOT_APPLICATION_NAME } from '../targets/target.js';
import { crosses, type ThresholdOperator } from './thresholds.js';
import type { CheckContext, CheckOutcome, CheckStatus, EvidenceRow } from './types.js';
import { formatSeconds } from './units.js';

/**
 * Excludes the bot's own sessions (every replica's, by application name) and the session
 * running the check. Appended to every pg_stat_activity query.
 */
export function notTheBot(alias?: string): string {
  const column = alias ? `${alias}.` : '';
  return `${column}pid <> pg_backend_pid() AND ${column}application_name IS DISTINCT FROM '${BOT_APPLICATION_NAME}'`;
}

export const NOT_THE_BOT = notTheBot();

const ORDER: Record<CheckStatus, number> = { ok: 0, skipped: 0, error: 1, warn: 2, critical: 3 };

export function worst<S extends CheckStatus>(...statuses: S[]): S {
  return statuses.reduce((a, b) => (ORDER[b] > ORDER[a] ? b : a));
}

/** The operators a runbook wrote for a check's warn and critical thresholds, when it did. */
export interface LevelOperators {
  warn?: ThresholdOperator;
  critical?: ThresholdOperator;
}

/**
 * Higher is worse: `value >= critical` is critical, `>= warn` is warn, unless a runbook's
 * threshold table wrote another operator (`> 60` fires above 60 only).
 */
export function levelAbove(
  value: number,
  warn: number,
  critical: number,
  operators: LevelOperators = {},
): 'ok' | 'warn' | 'critical' {
  if (crosses(value, critical, operators.critical ?? '>=')) return 'critical';
  if (crosses(value, warn, operators.warn ?? '>=')) return 'warn';
  return 'ok';
}

/** Lower is worse: `value < critical` is critical, `< warn` is warn (or the runbook's operator). */
export function levelBelow(
  value: number,
  warn: number,
  critical: number,
  operators: LevelOperators = {},
): 'ok' | 'warn' | 'critical' {
  if (crosses(value, critical, operators.critical ?? '<')) return 'critical';
  if (crosses(value, warn, operators.warn ?? '<')) return 'warn';
  return 'ok';
}

/** The runbook operators of a warn/critical pair, for levelAbove and levelBelow. */
export function operatorsOf(ctx: CheckContext, warnKey = 'warn', criticalKey = 'critical'): LevelOperators {
  const warn = ctx.operator(warnKey);
  const critical = ctx.operator(criticalKey);
  return { ...(warn ? { warn } : {}), ...(critical ? { critical } : {}) };
}

type WithTotal = EvidenceRow & { total_rows?: number | string };

/**
 * Queries that return `count(*) OVER () AS total_rows` with a LIMIT: the rows become the
 * evidence (without that column) and the count says how many there were before the cut.
 */
export async function topRows(ctx: CheckContext, sql: string, params: unknown[] = []) {
  const rows = await ctx.db.query<WithTotal>(sql, [...params, ctx.evidenceLimit]);
  const total = rows.length > 0 ? Number(rows[0]!.total_rows ?? rows.length) : 0;
  const evidence = rows.map(({ total_rows: _ignored, ...rest }) => rest as EvidenceRow);
  return { evidence, total };
}

export function num(value: unknown): number {
  return value === null || value === undefined ? 0 : Number(value);
}

/**
 * The shape of most session checks: rows at least `warn` seconds old, oldest first (SQL gets
 * `$1` = warn seconds and `$2` = the evidence limit); the oldest row's age sets the status.
 */
export async function oldestOverThreshold(
  ctx: CheckContext,
  spec: {
    sql: string;
    ageColumn: string;
    none: (warn: string) => string;
    found: (total: number, oldest: string, warn: string) => string;
  },
): Promise<CheckOutcome> {
  const warn = ctx.threshold('warn');
  const { evidence, total } = await topRows(ctx, spec.sql, [warn]);
  const oldest = num(evidence[0]?.[spec.ageColumn]);
  const status = levelAbove(oldest, warn, ctx.threshold('critical'), operatorsOf(ctx));
  // The query keeps rows at `warn` too; a runbook's `> 5s` does not fire at exactly 5 s.
  if (total === 0 || status === 'ok') return { status: 'ok', summary: spec.none(formatSeconds(warn)) };
  return {
    status,
    summary: spec.found(total, formatSeconds(oldest), formatSeconds(warn)),
    evidence,
    evidenceTotal: total,
  };
}

/** Most locks one diagnostic may hold at once; reads that lock per object go in batches under it. */
export const MAX_CHECK_LOCKS = 90;

/**
 * Runs `select(batch)` over `oids` in batches of `perBatch` (at most MAX_CHECK_LOCKS), each in a short
 * transaction of its own. Some reads lock each object to the end of the transaction, even
 * inside a subtransaction (sequences do): 50,000 sequences read in one transaction take
 * 50,000 locks and exhaust the server's shared lock table, "out of shared memory" for other
 * sessions too. OIDs are numbers read from the catalog, checked, and safe to inline.
 */
export async function inLockBatches<R extends object = EvidenceRow>(
  ctx: CheckContext,
  oids: readonly number[],
  select: (oidArray: string) => string,
  perBatch = MAX_CHECK_LOCKS,
): Promise<R[]> {
  if (oids.length === 0) return [];
  if (!ctx.db.inOwnTransactions) throw new Error('this session cannot split a read into transactions');
  const selects: string[] = [];
  for (let at = 0; at < oids.length; at += perBatch) {
    const batch = oids.slice(at, at + perBatch);
    for (const oid of batch) if (!Number.isInteger(oid) || oid < 0) throw new Error(`not an OID: ${oid}`);
    selects.push(select(`'{${batch.join(',')}}'::oid[]`));
  }
  return (await ctx.db.inOwnTransactions(selects)) as R[];
}
