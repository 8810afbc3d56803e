import type { Risk } from '../model.js';
import { strings, walk } from './ast.js';
import { normalizeFunctionName } from './readSafeFunctions.js';
import type { Verdict } from './verdict.js';

/**
 * How risky an UPDATE or DELETE is from its WHERE alone: bounded to picked rows (a key, a
 * time, a LIMITed subquery) or reaching a whole set.
 */
export function dmlRisk(type: string, body: Record<string, unknown>, verdict: Verdict): void {
  const verb = type === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
  verdict.raise(dmlRiskLevel(body), dmlRiskReason(verb, body));
}

/**
 * An UPDATE or DELETE is high risk when nothing in its WHERE bounds it to picked rows: no
 * WHERE at all, or one that only filters on a property many rows share (`status = 'queued'`,
 * `retry_count >= max_retries`), so it reaches a whole queue or table. It is medium when a
 * conjunct bounds it by key (`id = $1`, `lot_id IN (…)`, `email = …`), by time
 * (`created_at < now() - interval '90 days'`), or by a LIMITed subquery.
 */
export function dmlRiskLevel(body: Record<string, unknown>): Risk {
  return body.whereClause && bounded(body.whereClause) ? 'medium' : 'high';
}

export function dmlRiskReason(verb: string, body: Record<string, unknown>): string {
  if (!body.whereClause) return `${verb} without WHERE`;
  if (bounded(body.whereClause)) return `${verb} with WHERE`;
  return `${verb} whose WHERE has no key, id or time bound (it reaches every row that shares the filtered values)`;
}

/** Columns that pick one row or a few: `id`, `…_id`, `uuid`, `email`, `name`, `sku`, `…_key`, `…_number`, `ctid`. */
const KEY_COLUMN =
  /^(id|.+_id|uuid|.+_uuid|pid|email|.+_email|sku|ctid|key|.+_key|slug|code|name|.+_name|username|login|.+_number)$/;
/** Columns holding a point in time: `…_at`, `…_time`, `…_date`, `created`, `updated`, `timestamp`. */
const TIME_COLUMN = /^(.+_at|.+_time|.+_date|.+_on|created|updated|modified|timestamp|ts|date|time)$/;
const TIME_FUNCTIONS = new Set(['now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp']);

function columnName(node: unknown): string | undefined {
  const fields = (node as { ColumnRef?: { fields?: unknown } } | undefined)?.ColumnRef?.fields;
  return strings(fields).at(-1)?.toLowerCase();
}

/** now(), CURRENT_TIMESTAMP/CURRENT_DATE, or an interval, anywhere in the expression. */
function mentionsTime(node: unknown): boolean {
  for (const [type, body] of walk(node)) {
    if (type === 'FuncCall' && TIME_FUNCTIONS.has(normalizeFunctionName(strings(body.funcname)))) return true;
    if (type === 'SQLValueFunction') return true;
    if (type === 'TypeCast' && strings((body.typeName as { names?: unknown })?.names).includes('interval'))
      return true;
  }
  return false;
}

/** Whether a WHERE (or one of its AND-ed parts) bounds the rows by key, time or LIMIT. */
function bounded(node: unknown): boolean {
  const [type, body] = Object.entries((node ?? {}) as Record<string, Record<string, unknown>>)[0] ?? [];
  if (!type || !body) return false;
  if (type === 'BoolExpr') {
    const args = Array.isArray(body.args) ? body.args : [];
    if (body.boolop === 'AND_EXPR') return args.some(bounded);
    if (body.boolop === 'OR_EXPR') return args.length > 0 && args.every(bounded);
    return false;
  }
  if (type === 'A_Expr') {
    const op = strings(body.name)[0];
    const sides = [body.lexpr, body.rexpr];
    const columns = sides.map(columnName);
    if ((body.kind === 'AEXPR_OP' && op === '=') || body.kind === 'AEXPR_IN')
      if (columns.some((name) => name !== undefined && KEY_COLUMN.test(name))) return true;
    const ranged =
      (body.kind === 'AEXPR_OP' && ['<', '<=', '>', '>='].includes(op ?? '')) ||
      String(body.kind).startsWith('AEXPR_BETWEEN');
    if (ranged) {
      if (columns.some((name) => name !== undefined && (TIME_COLUMN.test(name) || KEY_COLUMN.test(name))))
        return true;
      if (sides.some(mentionsTime)) return true;
    }
    return false;
  }
  if (type === 'SubLink') {
    // `id IN (SELECT id … LIMIT 500)`: a batch of a bounded size.
    const select = (body.subselect as { SelectStmt?: Record<string, unknown> } | undefined)?.SelectStmt;
    return Boolean(select?.limitCount);
  }
  return false;
}
