import pg from 'pg';
import type { ActionStep } from '../runbooks/model.js';
import { applySession } from '../runbooks/sessionSettings.js';
import type { Target } from '../targets/target.js';
import { assignedColumns, type KeyColumn, unbatchableShape, writtenTable } from './batchSql.js';
import { allowedDrift } from './committed.js';
import type { ExecutionLimits } from './limits.js';
import { finish, type Plan, type PlannedBatches } from './planModel.js';
import { inRolledBackTransaction } from './session.js';

/**
 * Bounded batches, as a plan offers them: an UPDATE or DELETE over its row limit is refused
 * unless its procedure (`batched=yes`) or its target (`batched_dml`) allows batches; then, when
 * its shape and its table allow it, it runs as N transactions of at most `limit` rows each,
 * walking the table's key, and the plan says so. It is never silent: the summary and the
 * card say how many batches, of how many rows, and that a stop leaves earlier batches done.
 */

const count = (n: number) => n.toLocaleString('en-US');

/**
 * The plan as it stands, or, when it is a DML plan over its row limit: the plan offering
 * batches, or still blocked with why it cannot be batched (or how to allow batches).
 */
export async function boundedPlan(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  plan: Plan,
  limits: ExecutionLimits,
): Promise<Plan> {
  if (plan.mode !== 'dml' || plan.blocked?.kind !== 'over_limit' || plan.affectedRows === undefined)
    return plan;
  const sql = step.statement.sql;
  const shapeProblem = unbatchableShape(sql);
  if (!limits.batchesAllowedBy) {
    if (shapeProblem) return plan;
    return withReason(
      plan,
      `${plan.blocked.reason}; or let it run in batches of at most ${count(limits.maxRows)} rows, each committed on its own (batched=yes on the procedure, or batched_dml on the target)`,
    );
  }
  const problem =
    shapeProblem ??
    (plan.notFired?.length
      ? `${plan.notFired.join(', ')} would fire once per batch, not once`
      : await keyProblem(client, target, step, plan));
  if (typeof problem === 'string')
    return withReason(plan, `${plan.blocked.reason}. It cannot run in batches: ${problem}`);
  const size = limits.maxRows;
  const rows = plan.affectedRows;
  const batches: PlannedBatches = {
    count: Math.ceil(rows / size),
    size,
    key: problem.key,
    maxRows: rows + Math.floor(allowedDrift(rows)),
    allowedBy: limits.batchesAllowedBy,
  };
  const { blocked: _blocked, fingerprint, hash: _hash, ...rest } = plan;
  return finish(
    {
      ...rest,
      summary: `${plan.summary}: runs in ${batchesText(batches)}`,
      riskRaised: `it changes ${count(rows)} rows in ${batches.count} batches, each committed on its own`,
      batches,
    },
    // The approval is for batches of this size on this key, not only for the count.
    `${fingerprint}/${size}/${problem.key.map((column) => column.name).join(',')}`,
  );
}

/** "3 batches of at most 1,000 rows (by key id; allowed by …): …": what the plan promises. */
export function batchesText(batches: PlannedBatches): string {
  const key = batches.key.map((column) => column.name).join(', ');
  return (
    `${batches.count} ${batches.count === 1 ? 'batch' : 'batches'} of at most ${count(batches.size)} rows, in order of ${key} (allowed by ${batches.allowedBy}); ` +
    `each batch is its own transaction, so a stop between batches leaves the earlier ones done; at most ${count(batches.maxRows)} rows in all`
  );
}

/**
 * Whether batching differs from what was approved: a plan approved as one statement that
 * would now run in batches (its count grew past the limit within the drift) was not approved
 * as batches, and the reverse is over its limit.
 */
export function batchingChange(approved: Plan, current: Plan): string | undefined {
  if (current.batches && !approved.batches)
    return `it would now run in ${current.batches.count} batches; the approved plan was one statement`;
  return undefined;
}

function withReason(plan: Plan, reason: string): Plan {
  return { ...plan, blocked: { kind: 'over_limit', reason } };
}

/**
 * The key batches walk (the primary key, else the narrowest unique index whose columns are
 * all NOT NULL, not partial, not on expressions), or why there is none to walk. The table is
 * resolved as the statement's name is, under its role and settings.
 */
async function keyProblem(
  client: pg.PoolClient,
  target: Target,
  step: ActionStep,
  plan: Plan,
): Promise<string | { key: KeyColumn[] }> {
  const table = writtenTable(step.statement.sql);
  if (!table) return 'the table it writes could not be read from the statement';
  const name = `${table.schema ? `${pg.escapeIdentifier(table.schema)}.` : ''}${pg.escapeIdentifier(table.name)}`;
  const found = await inRolledBackTransaction(client, target.settings, true, async () => {
    await applySession(client, plan.session ?? []);
    const { rows } = await client.query<{ kind: string; inherited: boolean; key: KeyColumn[] | null }>(
      KEY_SQL,
      [name],
    );
    return rows[0];
  });
  if (!found) return `${name} is not a table the bot can find`;
  if (found.kind !== 'r' && found.kind !== 'p') return `${name} is not a table (a view or a foreign table)`;
  if (found.kind === 'r' && found.inherited && !table.only)
    return `${name} has inheritance children, where its key is not unique across them (write UPDATE ONLY / DELETE FROM ONLY)`;
  if (!found.key)
    return `${name} has no primary key or unique index on NOT NULL columns to walk in order, so which rows a batch has done cannot be told apart from those left`;
  const assigned = new Set(assignedColumns(step.statement.sql));
  const moved = found.key.filter((column) => assigned.has(column.name));
  if (moved.length > 0)
    return `it sets ${moved.map((column) => column.name).join(', ')}, the key batches walk in order, so a row could be reached twice`;
  return { key: found.key };
}

/** The table's kind and the key to walk: the primary key first, then the narrowest unique index. */
const KEY_SQL = `
  SELECT c.relkind::text AS kind, c.relhassubclass AS inherited,
         (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) ORDER BY k.ord)
            FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
           WHERE k.ord <= i.indnkeyatts) AS key
    FROM pg_class c
    LEFT JOIN LATERAL (
      SELECT x.indkey, x.indnkeyatts FROM pg_index x
       WHERE x.indrelid = c.oid AND x.indisunique AND x.indisvalid AND x.indimmediate
         AND x.indpred IS NULL AND x.indexprs IS NULL
         AND NOT EXISTS (SELECT 1 FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                          WHERE k.ord <= x.indnkeyatts AND NOT a.attnotnull)
       ORDER BY x.indisprimary DESC, x.indnkeyatts, x.indexrelid
       LIMIT 1) i ON true
   WHERE c.oid = to_regclass($1)`;
