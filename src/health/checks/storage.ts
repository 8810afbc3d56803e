import { plural } from '../../text.js';
import { levelAbove, levelBelow, num, operatorsOf, topRows } from '../checkKit.js';
import type { CheckDefinition } from '../types.js';
import { formatBytes, formatNumber, formatSeconds } from '../units.js';

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`;

export const databaseSize: CheckDefinition = {
  id: 'database_size',
  title: 'Database size',
  description: 'Size of the target database on disk (seed runbook: 8 GB / 10 GB).',
  thresholds: [
    { key: 'warn', unit: 'bytes', default: 8 * 1024 ** 3, description: 'database size' },
    { key: 'critical', unit: 'bytes', default: 10 * 1024 ** 3, description: 'database size' },
  ],
  remediation: {
    procedure: 'postgres-health#reclaim-space',
    text: 'Find the largest tables (largest_tables), archive old rows, vacuum bloated tables; raise the plan limit if growth is real.',
  },
  async run(ctx) {
    const [row] = await ctx.db.query<{ bytes: number }>(
      'SELECT pg_database_size(current_database())::float8 AS bytes',
    );
    const bytes = num(row?.bytes);
    return {
      status: levelAbove(bytes, ctx.threshold('warn'), ctx.threshold('critical'), operatorsOf(ctx)),
      summary: `database ${ctx.server.database} is ${formatBytes(bytes)}`,
      evidence: [{ database: ctx.server.database, bytes, size: formatBytes(bytes) }],
      evidenceTotal: 1,
    };
  },
};

export const largestTables: CheckDefinition = {
  id: 'largest_tables',
  title: 'Largest tables',
  description:
    'Tables by total size (heap, indexes and TOAST); information for capacity and space incidents.',
  thresholds: [],
  remediation: null,
  async run(ctx) {
    // pg_total_relation_size takes an ACCESS SHARE lock: a table locked exclusively makes
    // this check wait up to lock_timeout, which is reported as "timed out".
    const { evidence, total } = await topRows(
      ctx,
      `SELECT n.nspname AS schema, c.relname AS table, pg_total_relation_size(c.oid)::float8 AS total_bytes,
              pg_relation_size(c.oid)::float8 AS table_bytes, greatest(c.reltuples, 0)::float8 AS estimated_rows,
              count(*) OVER ()::int AS total_rows
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMAS}
        ORDER BY total_bytes DESC LIMIT $1`,
    );
    if (total === 0) return { status: 'ok', summary: 'no user tables' };
    const top = evidence[0]!;
    return {
      status: 'ok',
      summary: `${plural(total, 'table')}; the largest is ${top.schema}.${top.table} at ${formatBytes(num(top.total_bytes))}`,
      evidence: evidence.map((row) => ({ ...row, size: formatBytes(num(row.total_bytes)) })),
      evidenceTotal: total,
    };
  },
};

export const deadTuples: CheckDefinition = {
  id: 'dead_tuples',
  title: 'Dead tuples (table bloat)',
  description:
    'Tables with many dead row versions (seed runbook: n_dead_tup > 1000) as a share of all rows: bloat that slows scans.',
  thresholds: [
    {
      key: 'min_dead',
      unit: 'count',
      default: 1000,
      description: 'tables with fewer dead tuples are ignored',
    },
    { key: 'warn', unit: 'percent', default: 20, description: 'dead share of the table' },
    { key: 'critical', unit: 'percent', default: 50, description: 'dead share of the table' },
  ],
  remediation: {
    procedure: 'postgres-health#vacuum-table',
    params: { schema: 'schema', table: 'table' },
    text: 'VACUUM (ANALYZE) the table; if it keeps happening, tune its autovacuum settings or end the long transactions holding vacuum back.',
  },
  async run(ctx) {
    const warn = ctx.threshold('warn');
    const { evidence, total } = await topRows(
      ctx,
      `SELECT schemaname AS schema, relname AS table, n_dead_tup::float8 AS dead_tuples, n_live_tup::float8 AS live_tuples,
              round(100.0 * n_dead_tup / nullif(n_live_tup + n_dead_tup, 0), 1)::float8 AS dead_pct,
              coalesce(greatest(last_vacuum, last_autovacuum)::text, 'never') AS last_vacuum,
              count(*) OVER ()::int AS total_rows
         FROM pg_stat_user_tables
        WHERE n_dead_tup >= $1 AND 100.0 * n_dead_tup / nullif(n_live_tup + n_dead_tup, 0) >= $2
        ORDER BY dead_pct DESC, n_dead_tup DESC LIMIT $3`,
      [ctx.threshold('min_dead'), warn],
    );
    if (total === 0) return { status: 'ok', summary: `no table with more than ${warn}% dead tuples` };
    const top = evidence[0]!;
    return {
      status: levelAbove(num(top.dead_pct), warn, ctx.threshold('critical'), operatorsOf(ctx)),
      summary: `${plural(total, 'table')} over ${warn}% dead tuples; ${top.schema}.${top.table} has ${formatNumber(num(top.dead_tuples))} (${top.dead_pct}%)`,
      evidence,
      evidenceTotal: total,
    };
  },
};

export const autovacuumLag: CheckDefinition = {
  id: 'autovacuum_lag',
  title: 'Autovacuum lag',
  description:
    'Tables past their autovacuum trigger point that autovacuum has not processed for a long time, or on which it is disabled.',
  thresholds: [
    {
      key: 'warn',
      unit: 'seconds',
      default: 86_400,
      description: 'since the last vacuum of a table past its trigger',
    },
    {
      key: 'critical',
      unit: 'seconds',
      default: 172_800,
      description: 'since the last vacuum of a table past its trigger',
    },
  ],
  remediation: {
    procedure: 'postgres-health#vacuum-table',
    params: { schema: 'schema', table: 'table' },
    text: 'VACUUM the table now; re-enable autovacuum on it, and check for long transactions or too few autovacuum workers.',
  },
  async run(ctx) {
    const warn = ctx.threshold('warn');
    const { evidence, total } = await topRows(
      ctx,
      `WITH options AS (
         SELECT c.oid,
                max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_enabled') AS enabled,
                max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_vacuum_threshold') AS threshold,
                max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_vacuum_scale_factor') AS scale_factor
           FROM pg_class c CROSS JOIN LATERAL pg_options_to_table(c.reloptions) o
          WHERE c.reloptions IS NOT NULL
          GROUP BY c.oid
       ), tables AS (
         SELECT s.schemaname, s.relname, s.n_dead_tup,
                coalesce(o.threshold::float8, current_setting('autovacuum_vacuum_threshold')::float8)
                  + coalesce(o.scale_factor::float8, current_setting('autovacuum_vacuum_scale_factor')::float8)
                    * greatest(c.reltuples, 0) AS trigger_point,
                greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuumed,
                NOT coalesce(o.enabled::bool, true) OR NOT current_setting('autovacuum')::bool AS autovacuum_disabled
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
           LEFT JOIN options o ON o.oid = s.relid
       )
       SELECT schemaname AS schema, relname AS table, n_dead_tup::float8 AS dead_tuples,
              round(trigger_point)::float8 AS trigger_point, autovacuum_disabled,
              coalesce(last_vacuumed::text, 'never') AS last_vacuum,
              round(extract(epoch FROM now() - last_vacuumed))::float8 AS seconds_since_vacuum,
              count(*) OVER ()::int AS total_rows,
              -- The worst case over every row, not only the ones kept as evidence.
              max(extract(epoch FROM now() - last_vacuumed)) FILTER (WHERE NOT autovacuum_disabled) OVER ()::float8
                AS worst_seconds
         FROM tables
        -- Tables never vacuumed are left out unless autovacuum is off on them: a table that
        -- just got its first big batch is not lagging yet.
        WHERE n_dead_tup > trigger_point
          AND (autovacuum_disabled OR now() - last_vacuumed >= make_interval(secs => $1))
        ORDER BY autovacuum_disabled DESC, last_vacuumed LIMIT $2`,
      [warn],
    );
    if (total === 0) return { status: 'ok', summary: 'autovacuum is keeping up' };
    const critical = ctx.threshold('critical');
    const worstSeconds = num(evidence[0]?.worst_seconds);
    const status = worstSeconds > 0 ? levelAbove(worstSeconds, warn, critical, operatorsOf(ctx)) : 'warn';
    for (const row of evidence) delete row.worst_seconds;
    const disabled = evidence.filter((row) => row.autovacuum_disabled).length;
    const top = evidence[0]!;
    return {
      status,
      summary:
        `${plural(total, 'table')} past the autovacuum trigger` +
        (disabled > 0
          ? `, ${disabled} with autovacuum disabled (${top.schema}.${top.table})`
          : ` (${top.schema}.${top.table}: last vacuum ${top.last_vacuum})`),
      evidence,
      evidenceTotal: total,
    };
  },
};

export const cacheHitRatio: CheckDefinition = {
  id: 'cache_hit_ratio',
  title: 'Cache hit ratio',
  description:
    'Share of table and index block reads served from shared buffers since statistics were reset; low means the working set does not fit in memory.',
  thresholds: [
    { key: 'warn', unit: 'percent', default: 99, description: 'hit ratio below' },
    { key: 'critical', unit: 'percent', default: 95, description: 'hit ratio below' },
    {
      key: 'min_blocks',
      unit: 'count',
      default: 10_000,
      description: 'fewer block reads are too few to judge',
    },
  ],
  remediation: {
    procedure: 'postgres-health#investigate-slow-query',
    text: 'Find the queries reading most from disk (slow_queries, missing_indexes); add indexes or memory (a larger instance).',
  },
  async run(ctx) {
    const [row] = await ctx.db.query<{
      heap_hit: number;
      heap_read: number;
      idx_hit: number;
      idx_read: number;
    }>(
      `SELECT coalesce(sum(heap_blks_hit), 0)::float8 AS heap_hit, coalesce(sum(heap_blks_read), 0)::float8 AS heap_read,
              coalesce(sum(idx_blks_hit), 0)::float8 AS idx_hit, coalesce(sum(idx_blks_read), 0)::float8 AS idx_read
         FROM pg_statio_user_tables`,
    );
    const hit = num(row?.heap_hit) + num(row?.idx_hit);
    const read = num(row?.heap_read) + num(row?.idx_read);
    const ratio = (hits: number, reads: number) =>
      hits + reads > 0 ? Math.round((10_000 * hits) / (hits + reads)) / 100 : null;
    const evidence = [
      {
        table_hit_pct: ratio(num(row?.heap_hit), num(row?.heap_read)),
        index_hit_pct: ratio(num(row?.idx_hit), num(row?.idx_read)),
        blocks_hit: hit,
        blocks_read: read,
      },
    ];
    const overall = ratio(hit, read);
    if (overall === null || hit + read < ctx.threshold('min_blocks')) {
      return {
        status: 'ok',
        summary: `too little activity to judge (${formatNumber(hit + read)} block reads since statistics reset)`,
        evidence,
        evidenceTotal: 1,
      };
    }
    return {
      status: levelBelow(overall, ctx.threshold('warn'), ctx.threshold('critical'), operatorsOf(ctx)),
      summary: `${overall}% of block reads served from cache`,
      evidence,
      evidenceTotal: 1,
    };
  },
};

export const xidWraparound: CheckDefinition = {
  id: 'xid_wraparound',
  title: 'Transaction ID wraparound',
  description:
    'Age of the oldest unfrozen transaction (and multixact) ID per database; at about 2 billion Postgres stops accepting writes.',
  thresholds: [
    { key: 'warn', unit: 'count', default: 1_300_000_000, description: 'transaction ID age' },
    { key: 'critical', unit: 'count', default: 1_400_000_000, description: 'transaction ID age' },
  ],
  remediation: {
    procedure: 'postgres-health#vacuum-table',
    text: 'VACUUM (FREEZE) the oldest tables of the database; end long transactions and drop stale replication slots first.',
  },
  async run(ctx) {
    const { evidence, total } = await topRows(
      ctx,
      `SELECT datname AS database, age(datfrozenxid)::float8 AS xid_age, mxid_age(datminmxid)::float8 AS mxid_age,
              round(100.0 * age(datfrozenxid) / 2147483648, 1)::float8 AS pct_to_wraparound,
              count(*) OVER ()::int AS total_rows
         FROM pg_database WHERE datallowconn
        ORDER BY greatest(age(datfrozenxid), mxid_age(datminmxid)) DESC LIMIT $1`,
    );
    const top = evidence[0];
    const age = Math.max(num(top?.xid_age), num(top?.mxid_age));
    return {
      status: levelAbove(age, ctx.threshold('warn'), ctx.threshold('critical'), operatorsOf(ctx)),
      summary: `oldest transaction ID age ${formatNumber(age)} (${top?.database ?? '?'}, ${top?.pct_to_wraparound ?? 0}% of the way to wraparound)`,
      evidence,
      evidenceTotal: total,
    };
  },
};

export const sequenceExhaustion: CheckDefinition = {
  id: 'sequence_exhaustion',
  title: 'Sequence exhaustion',
  description:
    'Sequences close to their maximum, or to the maximum of the integer column they feed (a serial int4 column runs out at 2,147,483,647).',
  thresholds: [
    { key: 'warn', unit: 'percent', default: 85, description: 'of the usable range consumed' },
    { key: 'critical', unit: 'percent', default: 95, description: 'of the usable range consumed' },
  ],
  remediation: {
    procedure: 'postgres-health#widen-sequence-column',
    text: 'Plan the change of the column to bigint (ALTER TABLE … TYPE bigint rewrites the table) before inserts start failing.',
  },
  async run(ctx) {
    const warn = ctx.threshold('warn');
    const { evidence, total } = await topRows(
      ctx,
      `WITH owned AS (
         SELECT d.objid AS seq_oid, a.attrelid::regclass::text AS column_table, a.attname AS column_name,
                format_type(a.atttypid, a.atttypmod) AS column_type,
                CASE a.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 END AS type_max
           FROM pg_depend d
           JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
          WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
       ), usage AS (
         SELECT s.schemaname, s.sequencename, s.last_value, o.column_table, o.column_name, o.column_type,
                least(s.max_value::numeric, coalesce(o.type_max, s.max_value)::numeric) AS usable_max, s.min_value
           FROM pg_sequences s
           JOIN pg_class c ON c.relname = s.sequencename
           JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
           LEFT JOIN owned o ON o.seq_oid = c.oid
          WHERE s.increment_by > 0 AND s.last_value IS NOT NULL
       )
       SELECT schemaname AS schema, sequencename AS sequence, last_value::float8 AS last_value, usable_max::float8 AS usable_max,
              round(100 * (last_value::numeric - min_value) / nullif(usable_max - min_value, 0), 2)::float8 AS pct_used,
              column_table, column_name, column_type, count(*) OVER ()::int AS total_rows
         FROM usage
        WHERE 100 * (last_value::numeric - min_value) / nullif(usable_max - min_value, 0) >= $1
        ORDER BY pct_used DESC LIMIT $2`,
      [warn],
    );
    // pg_sequences hides last_value of sequences the role may not read (pg_monitor does not
    // grant that): say how many were not looked at instead of calling them fine.
    const [hidden] = await ctx.db.query<{ unreadable: number }>(
      `SELECT count(*)::int AS unreadable FROM pg_sequences s
        WHERE NOT has_sequence_privilege(format('%I.%I', s.schemaname, s.sequencename), 'SELECT,USAGE')`,
    );
    const unreadable = hidden?.unreadable
      ? `; ${plural(hidden.unreadable, 'sequence')} not readable by ${ctx.server.role} (GRANT SELECT ON ALL SEQUENCES IN SCHEMA … TO ${ctx.server.role})`
      : '';
    if (total === 0) return { status: 'ok', summary: `no sequence past ${warn}% of its range${unreadable}` };
    const top = evidence[0]!;
    return {
      status: levelAbove(num(top.pct_used), warn, ctx.threshold('critical'), operatorsOf(ctx)),
      summary: `${plural(total, 'sequence')} past ${warn}% of its range; ${top.schema}.${top.sequence} is at ${top.pct_used}%${unreadable}`,
      evidence,
      evidenceTotal: total,
    };
  },
};

export const statsReset: CheckDefinition = {
  id: 'stats_reset',
  title: 'Statistics age',
  description:
    'How long cumulative statistics have been collected; cache_hit_ratio, unused_indexes and slow_queries are only as good as this window.',
  thresholds: [],
  remediation: null,
  async run(ctx) {
    const [row] = await ctx.db.query<{ since: string | null; seconds: number | null }>(
      `SELECT stats_reset::text AS since, extract(epoch FROM now() - stats_reset)::float8 AS seconds
         FROM pg_stat_database WHERE datname = current_database()`,
    );
    if (!row?.since) {
      return {
        status: 'ok',
        summary: 'statistics have never been reset for this database',
        evidence: [],
        evidenceTotal: 0,
      };
    }
    const seconds = num(row.seconds);
    return {
      status: 'ok',
      summary: `statistics cover the last ${formatSeconds(seconds)} (reset at ${row.since})`,
      evidence: [{ since: row.since, seconds: Math.round(seconds) }],
      evidenceTotal: 1,
    };
  },
};
