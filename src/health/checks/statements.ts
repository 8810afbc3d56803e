import pg from 'pg';
import { plural } from '../../text.js';
import { levelAbove, num, operatorsOf, topRows } from '../checkKit.js';
import type { CheckDefinition } from '../types.js';

const ENABLE_HINT =
  'add pg_stat_statements to shared_preload_libraries, restart, then CREATE EXTENSION pg_stat_statements (Supabase: enable it under Database → Extensions)';

/** Our own diagnostics carry this comment; pg_stat_statements keeps it in the text. */
const OWN_QUERY_PATTERN = '/* runbook-bot%';

export const slowQueries: CheckDefinition = {
  id: 'slow_queries',
  title: 'Slow queries',
  description:
    'Statements in pg_stat_statements (in whatever schema it is installed) whose mean time is over the threshold (seed runbooks: mean > 1000 ms).',
  thresholds: [
    { key: 'warn', unit: 'milliseconds', default: 1000, description: 'mean execution time' },
    { key: 'critical', unit: 'milliseconds', default: 5000, description: 'mean execution time' },
    { key: 'min_calls', unit: 'count', default: 1, description: 'statements called fewer times are ignored' },
  ],
  remediation: {
    procedure: 'postgres-health#investigate-slow-query',
    text: 'EXPLAIN the statement, add the missing index or rewrite it; check dead tuples and stale statistics (ANALYZE).',
  },
  async run(ctx) {
    const schema = ctx.server.pgStatStatementsSchema;
    if (!schema) {
      return {
        status: 'skipped',
        summary: ctx.server.pgStatStatementsAvailable
          ? 'pg_stat_statements is not installed in this database: run CREATE EXTENSION pg_stat_statements (it must also be in shared_preload_libraries)'
          : `pg_stat_statements is not available on this server: ${ENABLE_HINT}`,
      };
    }
    const relation = `${pg.escapeIdentifier(schema)}.pg_stat_statements`;
    // PG13 renamed total_time → total_exec_time; an extension not updated after a major
    // upgrade keeps the old names, so ask the catalog rather than the server version.
    const columns = await ctx.db.query<{ attname: string }>(
      'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped',
      [relation],
    );
    const names = new Set(columns.map((column) => column.attname));
    const mean = names.has('mean_exec_time') ? 'mean_exec_time' : 'mean_time';
    const total = names.has('total_exec_time') ? 'total_exec_time' : 'total_time';
    const warn = ctx.threshold('warn');
    let result: Awaited<ReturnType<typeof topRows>>;
    try {
      result = await topRows(
        ctx,
        `WITH statements AS (
           SELECT queryid, calls, ${mean} AS mean_ms, ${total} AS total_ms, rows, query,
                  100 * ${total} / nullif(sum(${total}) OVER (), 0) AS pct_of_total
             FROM ${relation}
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND query NOT LIKE $1
         )
         SELECT queryid::text AS queryid, calls::float8 AS calls,
                round(mean_ms::numeric, 1)::float8 AS mean_ms, round(total_ms::numeric)::float8 AS total_ms,
                round(pct_of_total::numeric, 1)::float8 AS pct_of_total, rows::float8 AS rows,
                left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query, count(*) OVER ()::int AS total_rows
           FROM statements
          WHERE calls >= $2 AND mean_ms >= $3
          ORDER BY mean_ms DESC LIMIT $4`,
        [OWN_QUERY_PATTERN, ctx.threshold('min_calls'), warn],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '55000') {
        return {
          status: 'skipped',
          summary: `pg_stat_statements is installed but not loaded: ${ENABLE_HINT}`,
        };
      }
      throw err;
    }
    const hidden = ctx.server.canReadAllStats
      ? ''
      : ' (other roles’ query text is hidden: grant pg_read_all_stats to see it)';
    if (result.total === 0) {
      return { status: 'ok', summary: `no statement with a mean time over ${warn} ms${hidden}` };
    }
    const slowest = num(result.evidence[0]?.mean_ms);
    return {
      status: levelAbove(slowest, warn, ctx.threshold('critical'), operatorsOf(ctx)),
      summary: `${plural(result.total, 'statement')} with a mean time over ${warn} ms, the slowest ${slowest} ms${hidden}`,
      evidence: result.evidence,
      evidenceTotal: result.total,
    };
  },
};
