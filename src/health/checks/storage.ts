import { plural } from '../../text.js';
import { inLockBatches, levelAbove, levelBelow, num, operatorsOf, topRows } from '../checkKit.js';
import type { CheckDefinition, EvidenceRow } from '../types.js';
import { formatBytes, formatNumber, formatSeconds } from '../units.js';
import { STAT_TABLE_KINDS, STAT_TABLE_SCHEMAS } from './statTables.js';

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
    "Tables by total size (heap, indexes and TOAST), among the largest by the catalog's page counts as of the last VACUUM or ANALYZE; information for capacity and space incidents.",
  thresholds: [],
  remediation: null,
  async run(ctx) {
    // Sizing a table opens its files and locks it and its indexes: on 50,000 tables that is
    // 10-16 s and as many locks. The catalog's page counts (as of the last VACUUM or ANALYZE)
    // pick the candidates without either; only those are measured, a few at a time. A table
    // locked exclusively still makes this check wait up to lock_timeout ("timed out").
    const candidates = await ctx.db.query<{ oid: string; total_tables: number }>(
      `SELECT c.oid::int8 AS oid, count(*) OVER ()::int AS total_tables
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
        WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMAS}
        ORDER BY c.relpages::int8 + coalesce(t.relpages, 0)
                 + coalesce((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                              WHERE x.indrelid = c.oid), 0) DESC, c.oid
        LIMIT $1`,
      [Math.max(50, ctx.evidenceLimit * 3)],
    );
    const total = candidates[0]?.total_tables ?? 0;
    if (total === 0) return { status: 'ok', summary: 'no user tables' };
    const measured = await inLockBatches(
      ctx,
      candidates.map((row) => Number(row.oid)),
      (oids) =>
        `SELECT n.nspname AS schema, c.relname AS table, pg_total_relation_size(c.oid)::float8 AS total_bytes,
                pg_relation_size(c.oid)::float8 AS table_bytes, greatest(c.reltuples, 0)::float8 AS estimated_rows
           FROM unnest(${oids}) AS o(oid) JOIN pg_class c ON c.oid = o.oid JOIN pg_namespace n ON n.oid = c.relnamespace`,
      // A table's size locks the table, its TOAST table and each index.
      TABLES_SIZED_AT_ONCE,
    );
    const evidence = measured
      .sort((a, b) => num(b.total_bytes) - num(a.total_bytes))
      .slice(0, ctx.evidenceLimit)
      .map((row): EvidenceRow => ({ ...row, size: formatBytes(num(row.total_bytes)) }));
    const top = evidence[0]!;
    return {
      status: 'ok',
      summary: `${plural(total, 'table')}; the largest is ${top.schema}.${top.table} at ${formatBytes(num(top.total_bytes))}`,
      evidence,
      evidenceTotal: total,
    };
  },
};

/** Tables sized per transaction: each takes a lock per index too, and the bound is 100. */
const TABLES_SIZED_AT_ONCE = 15;

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
      `SELECT n.nspname AS schema, t.relname AS table, t.n_dead_tup::float8 AS dead_tuples, t.n_live_tup::float8 AS live_tuples,
              round(100.0 * t.n_dead_tup / nullif(t.n_live_tup + t.n_dead_tup, 0), 1)::float8 AS dead_pct,
              coalesce(greatest(pg_stat_get_last_vacuum_time(t.oid), pg_stat_get_last_autovacuum_time(t.oid))::text, 'never')
                AS last_vacuum,
              count(*) OVER ()::int AS total_rows
         FROM (SELECT c.oid, c.relnamespace, c.relname,
                      pg_stat_get_dead_tuples(c.oid) AS n_dead_tup, pg_stat_get_live_tuples(c.oid) AS n_live_tup
                 FROM pg_class c
                WHERE ${STAT_TABLE_KINDS} AND pg_stat_get_dead_tuples(c.oid) >= $1) t
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE ${STAT_TABLE_SCHEMAS}
          AND 100.0 * t.n_dead_tup / nullif(t.n_live_tup + t.n_dead_tup, 0) >= $2
        ORDER BY dead_pct DESC, t.n_dead_tup DESC, 1, 2 LIMIT $3`,
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
      `WITH dead AS (
         -- A trigger point is never below 0, so a table without dead tuples is never past it:
         -- one statistics lookup per table, the rest only for the few that have dead tuples.
         SELECT c.oid, c.relnamespace, c.relname, c.reltuples, c.reloptions, pg_stat_get_dead_tuples(c.oid) AS n_dead_tup
           FROM pg_class c
          WHERE ${STAT_TABLE_KINDS} AND pg_stat_get_dead_tuples(c.oid) > 0
       ), tables AS (
         SELECT n.nspname AS schemaname, d.relname, d.n_dead_tup,
                coalesce(o.threshold::float8, current_setting('autovacuum_vacuum_threshold')::float8)
                  + coalesce(o.scale_factor::float8, current_setting('autovacuum_vacuum_scale_factor')::float8)
                    * greatest(d.reltuples, 0) AS trigger_point,
                greatest(pg_stat_get_last_vacuum_time(d.oid), pg_stat_get_last_autovacuum_time(d.oid)) AS last_vacuumed,
                NOT coalesce(o.enabled::bool, true) OR NOT current_setting('autovacuum')::bool AS autovacuum_disabled
           FROM dead d
           JOIN pg_namespace n ON n.oid = d.relnamespace
           CROSS JOIN LATERAL (
                SELECT max(option_value) FILTER (WHERE option_name = 'autovacuum_enabled') AS enabled,
                       max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_threshold') AS threshold,
                       max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_scale_factor') AS scale_factor
                  FROM pg_options_to_table(d.reloptions)) o
          WHERE ${STAT_TABLE_SCHEMAS}
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
        ORDER BY autovacuum_disabled DESC, last_vacuumed, 1, 2 LIMIT $2`,
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
    "Share of the database's block reads served from shared buffers since statistics were reset (pg_stat_database); low means the working set does not fit in memory.",
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
    // One row of pg_stat_database (3 ms) rather than a sum over pg_statio_user_tables (a row
    // per table: 1 s on 50,000 tables). It counts every block the database read, catalogs too.
    const [row] = await ctx.db.query<{ hit: number; read: number }>(
      `SELECT coalesce(blks_hit, 0)::float8 AS hit, coalesce(blks_read, 0)::float8 AS read
         FROM pg_stat_database WHERE datname = current_database()`,
    );
    const hit = num(row?.hit);
    const read = num(row?.read);
    const ratio = (hits: number, reads: number) =>
      hits + reads > 0 ? Math.round((10_000 * hits) / (hits + reads)) / 100 : null;
    const evidence = [{ hit_pct: ratio(hit, read), blocks_hit: hit, blocks_read: read }];
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
    if (!Number.isFinite(warn)) throw new Error(`warn threshold is not a number: ${warn}`);
    // The catalog first, without locks: which sequences there are and which this role may
    // read. Reading a value opens and locks the sequence, so values are read in lock-bounded
    // batches (inLockBatches), never 50,000 at once.
    const [catalog] = await ctx.db.query<{ readable: string[]; unreadable: number }>(
      `SELECT coalesce(array_agg(oid) FILTER (WHERE readable), '{}') AS readable,
              count(*) FILTER (WHERE NOT readable)::int AS unreadable
         FROM (SELECT s.seqrelid::int8 AS oid, has_sequence_privilege(s.seqrelid, 'SELECT,USAGE') AS readable
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
                WHERE s.seqincrement > 0 AND NOT pg_is_other_temp_schema(c.relnamespace)) sequences`,
    );
    const readable = (catalog?.readable ?? []).map(Number);
    // Every readable sequence's value is read; a batch sends back only those past `warn` of
    // the smallest range they could have (their own maximum or an int2 column's 32,767), so
    // 50,000 quiet sequences send back nothing. The query is kept as simple as it can be:
    // it is planned once per batch. `warn` is a number, checked above; the arithmetic is
    // numeric, as a range can span all of bigint.
    const candidates = await inLockBatches<{ oid: string; last_value: string }>(
      ctx,
      readable,
      (oids) =>
        `SELECT s.seqrelid::int8 AS oid, v.last_value::text AS last_value
           FROM unnest(${oids}) AS u(oid) JOIN pg_sequence s ON s.seqrelid = u.oid,
                pg_sequence_last_value(s.seqrelid) AS v(last_value)
          WHERE (v.last_value::numeric - s.seqmin) * 100 >= ${warn} * (least(s.seqmax, 32767)::numeric - s.seqmin)`,
    );
    // Only the candidates get the column they feed (an int2 or int4 column lowers the usable
    // maximum) and their names, and only those past `warn` of that come back: catalog reads,
    // no lock on any sequence.
    const past =
      candidates.length === 0
        ? []
        : await ctx.db.query<PastWarn>(
            `SELECT n.nspname AS schema, c.relname AS sequence, u.last_value::text AS last_value,
                    s.seqmin::text AS min_value, least(s.seqmax, coalesce(o.type_max, s.seqmax))::text AS usable_max,
                    o.column_table, o.column_name, o.column_type
               FROM unnest($1::oid[], $2::int8[]) AS u(oid, last_value)
               JOIN pg_sequence s ON s.seqrelid = u.oid
               JOIN pg_class c ON c.oid = u.oid JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN LATERAL (
                 SELECT a.attrelid::regclass::text AS column_table, a.attname AS column_name,
                        format_type(a.atttypid, a.atttypmod) AS column_type,
                        CASE a.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 END AS type_max
                   FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = u.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                  LIMIT 1) o ON true
              WHERE (u.last_value::numeric - s.seqmin) * 100
                    >= $3::numeric * (least(s.seqmax, coalesce(o.type_max, s.seqmax))::numeric - s.seqmin)`,
            [candidates.map((row) => row.oid), candidates.map((row) => row.last_value), warn],
          );
    const used = past.flatMap((row) => {
      const pct = percentUsed(BigInt(row.last_value), BigInt(row.min_value), BigInt(row.usable_max));
      if (pct === null || pct < warn) return [];
      return [
        {
          schema: row.schema,
          sequence: row.sequence,
          last_value: Number(row.last_value),
          usable_max: Number(row.usable_max),
          pct_used: pct,
          column_table: row.column_table,
          column_name: row.column_name,
          column_type: row.column_type,
        },
      ];
    });
    used.sort((a, b) => b.pct_used - a.pct_used);
    const unreadableCount = num(catalog?.unreadable);
    // pg_monitor does not grant reading sequences: say how many were not looked at instead of
    // calling them fine.
    const unreadable = unreadableCount
      ? `; ${plural(unreadableCount, 'sequence')} not readable by ${ctx.server.role} (GRANT SELECT ON ALL SEQUENCES IN SCHEMA … TO ${ctx.server.role})`
      : '';
    if (used.length === 0)
      return {
        status: 'ok',
        summary: `no sequence past ${warn}% of its range (${plural(readable.length, 'sequence')} read)${unreadable}`,
      };
    const top = used[0]!;
    return {
      status: levelAbove(top.pct_used, warn, ctx.threshold('critical'), operatorsOf(ctx)),
      summary: `${plural(used.length, 'sequence')} past ${warn}% of its range; ${top.schema}.${top.sequence} is at ${top.pct_used}%${unreadable}`,
      evidence: used.slice(0, ctx.evidenceLimit),
      evidenceTotal: used.length,
    };
  },
};

/** A candidate with its names and usable maximum; values are text, exact up to 2^63. */
interface PastWarn {
  schema: string;
  sequence: string;
  last_value: string;
  min_value: string;
  usable_max: string;
  column_table: string | null;
  column_name: string | null;
  column_type: string | null;
}

/** Share of the range consumed, to two decimals, in exact integer arithmetic (values reach 2^63). */
function percentUsed(last: bigint, min: bigint, max: bigint): number | null {
  if (max <= min) return null;
  return Number(((last - min) * 10_000n) / (max - min)) / 100;
}

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
