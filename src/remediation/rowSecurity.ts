import { parseSync } from 'libpg-query';
import pg from 'pg';
import { leftStatementRunning } from '../targets/connectionErrors.js';
import type { Target } from '../targets/target.js';
import { beginSql, withConnection } from './session.js';

/**
 * How long row-level security may stay off after an approved `DISABLE ROW LEVEL SECURITY`
 * before the bot turns it back on: long enough to test a query, short enough that a
 * forgotten re-enable does not leave a table open to the API for the night.
 */
export const ROW_SECURITY_REVERT_MS = 15 * 60_000;

/** What an approved DISABLE ROW LEVEL SECURITY is paired with: its re-enable, and when. */
export interface RowSecurityRevert {
  table: string;
  sql: string;
  afterMs: number;
}

/**
 * For `ALTER TABLE t DISABLE ROW LEVEL SECURITY` (seed 001's "Temporarily disable RLS for
 * testing (CAREFUL!)"): the table and the statement that undoes it. Undefined for anything else.
 */
export function rowSecurityDisabled(sql: string): RowSecurityRevert | undefined {
  let stmts: Array<{ stmt: Record<string, unknown> }>;
  try {
    stmts = (parseSync(sql) as { stmts?: Array<{ stmt: Record<string, unknown> }> }).stmts ?? [];
  } catch {
    return undefined;
  }
  const alter = stmts[0]?.stmt.AlterTableStmt as
    | {
        relation?: { schemaname?: string; relname?: string };
        cmds?: Array<{ AlterTableCmd?: { subtype?: string } }>;
      }
    | undefined;
  if (!alter?.relation?.relname) return undefined;
  if (!alter.cmds?.some((cmd) => cmd.AlterTableCmd?.subtype === 'AT_DisableRowSecurity')) return undefined;
  const { schemaname, relname } = alter.relation;
  const table = [schemaname, relname]
    .filter((part): part is string => Boolean(part))
    .map(pg.escapeIdentifier)
    .join('.');
  return { table, sql: `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`, afterMs: ROW_SECURITY_REVERT_MS };
}

/** Why disabling row-level security is not offered on this target, or undefined when it may be. */
export function rowSecurityRefusal(target: Target, revert: RowSecurityRevert): string | undefined {
  if (!target.tags.includes('production')) return undefined;
  return `disabling row-level security on ${revert.table} would open every row to the API roles of a production target; test the policy as the user instead (a query under SET ROLE and SET request.jwt.claim.sub runs as a check)`;
}

/** What the bot found when it came to turn row-level security back on. */
export type RevertOutcome = 'reenabled' | 'already_enabled' | 'table_gone';

/**
 * Turns row-level security back on, in one short transaction with the target's timeouts,
 * unless someone did already (the runbook's own "Re-enable immediately" step) or the table
 * is gone. Throws on a database error, so the job is retried.
 */
export async function reenableRowSecurity(
  pool: pg.Pool,
  target: Target,
  revert: RowSecurityRevert,
): Promise<RevertOutcome> {
  return withConnection(pool, async (client) => {
    await client.query(beginSql(target.settings));
    try {
      const { rows } = await client.query<{ on: boolean | null }>(
        'SELECT c.relrowsecurity AS on FROM pg_class c WHERE c.oid = to_regclass($1)',
        [revert.table],
      );
      const outcome: RevertOutcome =
        rows.length === 0 || rows[0]!.on === null
          ? 'table_gone'
          : rows[0]!.on
            ? 'already_enabled'
            : 'reenabled';
      if (outcome === 'reenabled') await client.query(revert.sql);
      await client.query('COMMIT');
      return outcome;
    } catch (err) {
      // Not behind a statement still running after pg's read timeout (see committed.ts).
      if (!leftStatementRunning(err)) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
