import { plural } from '../../text.js';
import { levelAbove, NOT_THE_BOT, oldestOverThreshold, operatorsOf, worst } from '../checkKit.js';
import type { CheckDefinition } from '../types.js';

const CLIENT_SESSIONS = `backend_type = 'client backend' AND ${NOT_THE_BOT}`;
/**
 * Without pg_read_all_stats, other roles' sessions show backend_type NULL; those with a role
 * (usesysid) are client sessions too, so counting them keeps the total honest.
 */
const ANY_CLIENT_SESSION = `(backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL)) AND ${NOT_THE_BOT}`;

export const connections: CheckDefinition = {
  id: 'connections',
  title: 'Connections',
  description:
    'Client connections on the server, against absolute limits (seed runbook: 60 / 80) and a share of max_connections.',
  thresholds: [
    { key: 'warn', unit: 'count', default: 60, description: 'client connections' },
    { key: 'critical', unit: 'count', default: 80, description: 'client connections' },
    { key: 'warn_pct', unit: 'percent', default: 90, description: 'of max_connections' },
    { key: 'critical_pct', unit: 'percent', default: 95, description: 'of max_connections' },
  ],
  remediation: {
    procedure: 'postgres-health#connection-pool-exhaustion',
    text: 'Find who holds the connections (evidence), end idle ones, and fix the pool size of the application that leaks.',
  },
  async run(ctx) {
    const rows = await ctx.db.query<{
      datname: string | null;
      usename: string | null;
      application_name: string | null;
      state: string | null;
      sessions: number;
    }>(
      `SELECT datname, usename, application_name, coalesce(state, 'unknown') AS state, count(*)::int AS sessions
         FROM pg_stat_activity WHERE ${ANY_CLIENT_SESSION}
        GROUP BY 1, 2, 3, 4 ORDER BY sessions DESC`,
    );
    const total = rows.reduce((sum, row) => sum + row.sessions, 0);
    const max = ctx.server.maxConnections;
    const pct = max > 0 ? (100 * total) / max : 0;
    const status = worst(
      levelAbove(total, ctx.threshold('warn'), ctx.threshold('critical'), operatorsOf(ctx)),
      levelAbove(
        pct,
        ctx.threshold('warn_pct'),
        ctx.threshold('critical_pct'),
        operatorsOf(ctx, 'warn_pct', 'critical_pct'),
      ),
    );
    return {
      status,
      summary:
        `${plural(total, 'client connection')} (${pct.toFixed(0)}% of max_connections ${max})` +
        (ctx.server.canReadAllStats
          ? ''
          : "; other roles' session states are hidden without pg_read_all_stats"),
      evidence: rows.slice(0, ctx.evidenceLimit),
      evidenceTotal: rows.length,
    };
  },
};

export const idleInTransaction: CheckDefinition = {
  id: 'idle_in_transaction',
  title: 'Sessions idle in transaction',
  description:
    'Sessions that opened a transaction and went quiet: they hold locks and stop vacuum from cleaning up.',
  needsReadAllStats: true,
  thresholds: [
    { key: 'warn', unit: 'seconds', default: 600, description: 'idle in a transaction for' },
    { key: 'critical', unit: 'seconds', default: 1800, description: 'idle in a transaction for' },
  ],
  remediation: {
    procedure: 'postgres-health#terminate-idle-in-transaction',
    text: 'Terminate the listed sessions (seed: idle in transaction > 10 min) and set idle_in_transaction_session_timeout.',
  },
  run: (ctx) =>
    oldestOverThreshold(ctx, {
      ageColumn: 'idle_seconds',
      none: (warn) => `no session idle in a transaction for ${warn}`,
      found: (total, oldest) => `${plural(total, 'session')} idle in a transaction, the oldest for ${oldest}`,
      sql: `SELECT pid, usename, application_name, client_addr::text AS client_addr,
              round(extract(epoch FROM now() - state_change))::int AS idle_seconds,
              round(extract(epoch FROM now() - xact_start))::int AS transaction_seconds,
              left(query, 200) AS last_query, count(*) OVER ()::int AS total_rows
         FROM pg_stat_activity
        WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')
          AND datname = current_database() AND ${NOT_THE_BOT}
          AND now() - state_change >= make_interval(secs => $1)
        ORDER BY state_change LIMIT $2`,
    }),
};

export const longRunningQueries: CheckDefinition = {
  id: 'long_running_queries',
  title: 'Long-running queries',
  description: 'Active client queries running longer than the threshold (seed runbook: 5 s / 10 s).',
  needsReadAllStats: true,
  thresholds: [
    { key: 'warn', unit: 'seconds', default: 5, description: 'query running for' },
    { key: 'critical', unit: 'seconds', default: 10, description: 'query running for' },
  ],
  remediation: {
    procedure: 'postgres-health#cancel-long-running-query',
    text: 'Cancel the query (pg_cancel_backend) before terminating its session; then find out why it is slow.',
  },
  run: (ctx) =>
    oldestOverThreshold(ctx, {
      ageColumn: 'running_seconds',
      none: (warn) => `no query running longer than ${warn}`,
      found: (total, oldest) =>
        `${plural(total, 'query', 'queries')} running longer than the threshold, the longest for ${oldest}`,
      sql: `SELECT pid, usename, application_name,
              round(extract(epoch FROM now() - query_start), 1)::float8 AS running_seconds,
              wait_event_type, wait_event, left(query, 200) AS query, count(*) OVER ()::int AS total_rows
         FROM pg_stat_activity
        WHERE state = 'active' AND datname = current_database() AND ${CLIENT_SESSIONS}
          AND now() - query_start >= make_interval(secs => $1)
        ORDER BY query_start LIMIT $2`,
    }),
};

export const longTransactions: CheckDefinition = {
  id: 'long_transactions',
  title: 'Long transactions',
  description:
    'Transactions open for a long time, active or not: they hold back vacuum and the xmin horizon.',
  needsReadAllStats: true,
  thresholds: [
    { key: 'warn', unit: 'seconds', default: 300, description: 'transaction open for' },
    { key: 'critical', unit: 'seconds', default: 1800, description: 'transaction open for' },
  ],
  remediation: {
    procedure: 'postgres-health#terminate-idle-in-transaction',
    text: 'Ask the owner to commit, or end the session; long transactions block vacuum for the whole database.',
  },
  run: (ctx) =>
    oldestOverThreshold(ctx, {
      ageColumn: 'transaction_seconds',
      none: (warn) => `no transaction open longer than ${warn}`,
      found: (total, oldest) =>
        `${plural(total, 'transaction')} open longer than the threshold, the oldest for ${oldest}`,
      sql: `SELECT pid, usename, application_name, state,
              round(extract(epoch FROM now() - xact_start))::int AS transaction_seconds,
              left(query, 200) AS query, count(*) OVER ()::int AS total_rows
         FROM pg_stat_activity
        WHERE xact_start IS NOT NULL AND datname = current_database() AND ${CLIENT_SESSIONS}
          AND now() - xact_start >= make_interval(secs => $1)
        ORDER BY xact_start LIMIT $2`,
    }),
};

export const preparedTransactions: CheckDefinition = {
  id: 'prepared_transactions',
  title: 'Prepared transactions',
  description:
    'Two-phase-commit transactions left prepared: they hold locks and the xmin horizon until resolved.',
  thresholds: [
    { key: 'warn', unit: 'seconds', default: 1, description: 'prepared for' },
    { key: 'critical', unit: 'seconds', default: 30, description: 'prepared for' },
  ],
  remediation: {
    procedure: 'postgres-health#resolve-prepared-transaction',
    text: 'Find the transaction manager that owns the gid; COMMIT PREPARED or ROLLBACK PREPARED only with its owner.',
  },
  run: (ctx) =>
    oldestOverThreshold(ctx, {
      ageColumn: 'prepared_seconds',
      none: () => 'no prepared transaction left open',
      found: (total, oldest) => `${plural(total, 'prepared transaction')}, the oldest for ${oldest}`,
      sql: `SELECT gid, owner, round(extract(epoch FROM now() - prepared))::int AS prepared_seconds,
              count(*) OVER ()::int AS total_rows
         FROM pg_prepared_xacts
        WHERE database = current_database() AND now() - prepared >= make_interval(secs => $1)
        ORDER BY prepared LIMIT $2`,
    }),
};
