import { plural } from '../../text.js';
import { levelAbove, NOT_THE_BOT, notTheBot, num, operatorsOf, topRows } from '../checkKit.js';
import type { CheckDefinition, EvidenceRow } from '../types.js';
import { formatSeconds } from '../units.js';

interface BlockedSession {
  pid: number;
  usename: string | null;
  application_name: string | null;
  blocked_by: number[];
  waiting_seconds: number;
  query: string | null;
}

interface SessionSummary {
  pid: number;
  state: string | null;
  transaction_seconds: number | null;
  query: string | null;
}

/** Follows "blocked by" links to the session at the head of the chain (cycles are deadlocks Postgres breaks). */
export function rootBlocker(pid: number, blockedBy: Map<number, number[]>): number {
  const seen = new Set<number>();
  let current = pid;
  while (!seen.has(current)) {
    seen.add(current);
    const next = blockedBy.get(current)?.[0];
    if (next === undefined) return current;
    current = next;
  }
  return current;
}

export const blockingChains: CheckDefinition = {
  id: 'blocking_chains',
  title: 'Blocking chains',
  description:
    'Sessions waiting on a lock another session holds (any lock type, via pg_blocking_pids), with the session at the head of each chain.',
  thresholds: [
    { key: 'warn', unit: 'seconds', default: 60, description: 'a session has waited for a lock for' },
    { key: 'critical', unit: 'seconds', default: 300, description: 'a session has waited for a lock for' },
  ],
  remediation: {
    procedure: 'postgres-health#end-blocking-session',
    text: 'Cancel, then if needed terminate, the root blocker (often a session idle in a transaction).',
  },
  async run(ctx) {
    const warn = ctx.threshold('warn');
    const blocked = await ctx.db.query<BlockedSession>(
      `SELECT a.pid, a.usename, a.application_name, pg_blocking_pids(a.pid) AS blocked_by,
              round(extract(epoch FROM now() - coalesce(w.waitstart, a.query_start)), 1)::float8 AS waiting_seconds,
              left(a.query, 200) AS query
         FROM pg_stat_activity a
         JOIN (SELECT pid, min(waitstart) AS waitstart FROM pg_locks WHERE NOT granted GROUP BY pid) w ON w.pid = a.pid
        WHERE a.datname = current_database() AND ${notTheBot('a')}
        ORDER BY waiting_seconds DESC`,
    );
    const chains = new Map(blocked.map((row) => [row.pid, row.blocked_by]));
    const waiting = blocked.filter((row) => row.blocked_by.length > 0 && row.waiting_seconds >= warn);
    if (waiting.length === 0) {
      return { status: 'ok', summary: `no session blocked on a lock for ${formatSeconds(warn)}` };
    }
    const roots = new Map(waiting.map((row) => [row.pid, rootBlocker(row.pid, chains)]));
    const rootSessions = await ctx.db.query<SessionSummary>(
      `SELECT pid, state, round(extract(epoch FROM now() - xact_start))::int AS transaction_seconds,
              left(query, 200) AS query
         FROM pg_stat_activity WHERE pid = ANY($1::int[])`,
      [[...new Set(roots.values())]],
    );
    const rootByPid = new Map(rootSessions.map((row) => [row.pid, row]));
    const evidence: EvidenceRow[] = waiting.slice(0, ctx.evidenceLimit).map((row) => {
      const root = rootByPid.get(roots.get(row.pid)!);
      return {
        pid: row.pid,
        usename: row.usename,
        waiting_seconds: row.waiting_seconds,
        blocked_by: row.blocked_by.join(', '),
        root_blocker_pid: root?.pid ?? roots.get(row.pid)!,
        root_blocker_state: root?.state ?? null,
        root_blocker_transaction_seconds: root?.transaction_seconds ?? null,
        root_blocker_query: root?.query ?? null,
        query: row.query,
      };
    });
    const longest = waiting[0]!.waiting_seconds;
    const first = evidence[0]!;
    const rootState = first.root_blocker_state ? ` (${first.root_blocker_state})` : '';
    return {
      status: levelAbove(longest, warn, ctx.threshold('critical'), operatorsOf(ctx)),
      summary:
        `${plural(waiting.length, 'session')} blocked, the longest for ${formatSeconds(longest)}; ` +
        `root blocker pid ${first.root_blocker_pid}${rootState}`,
      evidence,
      evidenceTotal: waiting.length,
    };
  },
};

export const ungrantedLocks: CheckDefinition = {
  id: 'ungranted_locks',
  title: 'Ungranted locks',
  description: 'Lock requests waiting to be granted (pg_locks), readable without pg_read_all_stats.',
  thresholds: [
    { key: 'warn', unit: 'count', default: 1, description: 'lock requests waiting longer than min_wait' },
    {
      key: 'critical',
      unit: 'count',
      default: 10,
      description: 'lock requests waiting longer than min_wait',
    },
    {
      key: 'min_wait',
      unit: 'seconds',
      default: 10,
      description: 'shorter waits are normal and not counted',
    },
  ],
  remediation: {
    procedure: 'postgres-health#end-blocking-session',
    text: 'End the holder the finding names (often idle in a transaction), not the waiters.',
  },
  async run(ctx) {
    const minWait = ctx.threshold('min_wait');
    const { evidence, total } = await topRows(
      ctx,
      // The holder is named here, whatever blocking_chains' thresholds: a finding that lists
      // waiters without who they wait for sends people to a check that may say "ok". The
      // holder is the first blocker not itself waiting (the head, not the queue ahead of it).
      `SELECT l.pid, l.locktype, l.mode,
              CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation,
              round(extract(epoch FROM now() - l.waitstart), 1)::float8 AS waiting_seconds,
              h.pid AS holder_pid, h.usename AS holder_user, h.application_name AS holder_application,
              h.state AS holder_state,
              (SELECT string_agg(DISTINCT hl.mode || CASE
                        WHEN hl.relation IS NOT NULL THEN ' on ' || hl.relation::regclass::text
                        WHEN hl.locktype = 'transactionid' THEN ' on transaction ' || hl.transactionid::text
                        ELSE ' (' || hl.locktype || ')' END, ', ') FROM pg_locks hl
                WHERE hl.pid = h.pid AND hl.granted
                  AND CASE WHEN l.relation IS NOT NULL THEN hl.relation = l.relation
                           ELSE hl.locktype = l.locktype AND hl.transactionid IS NOT DISTINCT FROM l.transactionid
                                AND hl.virtualxid IS NOT DISTINCT FROM l.virtualxid END) AS holder_holds,
              CASE WHEN h.state LIKE 'idle%' THEN round(extract(epoch FROM now() - h.state_change), 1)::float8 END
                AS holder_idle_seconds,
              count(*) OVER ()::int AS total_rows
         FROM pg_locks l
         LEFT JOIN LATERAL (
           WITH RECURSIVE up(pid, depth) AS (
             SELECT l.pid, 0
             UNION
             SELECT b.pid, up.depth + 1 FROM up, unnest(pg_blocking_pids(up.pid)) AS b(pid) WHERE up.depth < 8
           )
           SELECT up.pid FROM up WHERE up.depth > 0
            ORDER BY EXISTS (SELECT 1 FROM pg_locks w WHERE w.pid = up.pid AND NOT w.granted), up.depth LIMIT 1
         ) blocker ON true
         LEFT JOIN pg_stat_activity h ON h.pid = blocker.pid
        WHERE NOT l.granted AND l.pid <> pg_backend_pid()
          AND l.pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND ${NOT_THE_BOT})
          AND now() - l.waitstart >= make_interval(secs => $1)
        ORDER BY l.waitstart LIMIT $2`,
      [minWait],
    );
    if (total === 0)
      return { status: 'ok', summary: `no lock request waiting longer than ${formatSeconds(minWait)}` };
    return {
      status: levelAbove(total, ctx.threshold('warn'), ctx.threshold('critical'), operatorsOf(ctx)),
      summary: `${plural(total, 'lock request')} waiting, the oldest for ${formatSeconds(num(evidence[0]?.waiting_seconds))}${holderText(evidence[0]!)}`,
      evidence,
      evidenceTotal: total,
    };
  },
};

/** "; held by pid 123 (alice, app psql, idle in transaction for 45 s, holds RowExclusiveLock)". */
function holderText(row: EvidenceRow): string {
  if (row.holder_pid === null || row.holder_pid === undefined) return '';
  const idle = row.holder_idle_seconds === null ? '' : ` for ${formatSeconds(num(row.holder_idle_seconds))}`;
  const about = [
    row.holder_user,
    row.holder_application ? `app ${row.holder_application}` : null,
    row.holder_state ? `${row.holder_state}${idle}` : null,
    row.holder_holds ? `holds ${row.holder_holds}` : null,
  ].filter((part) => part !== null && part !== undefined && part !== '');
  return `; held by pid ${row.holder_pid}${about.length > 0 ? ` (${about.join(', ')})` : ''}`;
}
