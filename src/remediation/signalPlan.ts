import type pg from 'pg';
import { readSafety } from '../runbooks/execute/readSafety.js';
import type { ActionStep, SignalScope } from '../runbooks/model.js';
import { cellText } from '../targets/cellText.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';
import type { ExecutionLimits } from './limits.js';
import { PlanError } from './planError.js';
import {
  type BackendRow,
  finish,
  nullableText,
  PLAN_CELL_CHARS,
  type Plan,
  type PlanBase,
  type PlanBlock,
} from './planModel.js';
import { inRolledBackTransaction, queryArgs } from './session.js';
import { backendsSql, type SignalFunction, signalCall } from './signalQuery.js';

const SIGNAL_VERBS: Record<SignalFunction, string> = {
  pg_terminate_backend: 'terminate',
  pg_cancel_backend: 'cancel the queries of',
};

/**
 * The backends the statement would signal: its FROM/WHERE evaluated with the call replaced
 * by its argument, in a READ ONLY transaction, minus the bot's own sessions, superusers and
 * non-client backends.
 */
export async function signalPlan(
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
            reason: `it would signal ${plural(backends.length, 'backend')}; the limit is ${limits.maxBackends}. Narrow its WHERE`,
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

function pidFingerprint(pids: number[]): string {
  return [...pids].sort((a, b) => a - b).join(',');
}
