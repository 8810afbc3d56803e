import { plural } from '../../text.js';
import { topRows } from '../checkKit.js';
import type { CheckDefinition } from '../types.js';
import { formatBytes } from '../units.js';
import { STAT_TABLE_KINDS, STAT_TABLE_SCHEMAS } from './statTables.js';

/**
 * Index size from the catalog (pages as of the last VACUUM/ANALYZE/CREATE INDEX) rather than
 * pg_relation_size, which takes a lock and so waits behind any ACCESS EXCLUSIVE holder.
 */
const indexBytes = (pgClass: string) => `${pgClass}.relpages::bigint * current_setting('block_size')::bigint`;

export const unusedIndexes: CheckDefinition = {
  id: 'unused_indexes',
  title: 'Unused indexes',
  description:
    'Non-unique indexes never scanned since statistics were reset and at least min_bytes large: they cost writes and space for nothing.',
  thresholds: [
    {
      key: 'min_bytes',
      unit: 'bytes',
      default: 10 * 1024 ** 2,
      description: 'smaller unused indexes are ignored',
    },
  ],
  remediation: {
    procedure: 'postgres-health#drop-unused-index',
    params: { schema: 'schema', index: 'index' },
    text: 'Check replicas and the statistics window (stats_reset) first, then DROP INDEX CONCURRENTLY.',
  },
  async run(ctx) {
    const { evidence, total } = await topRows(
      ctx,
      `SELECT s.schemaname AS schema, s.relname AS table, s.indexrelname AS index,
              ${indexBytes('c')}::float8 AS bytes, s.idx_scan::float8 AS scans,
              count(*) OVER ()::int AS total_rows
         FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
         JOIN pg_class c ON c.oid = s.indexrelid
        WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
          AND i.indisvalid AND ${indexBytes('c')} >= $1 AND s.schemaname NOT LIKE 'pg_toast%'
        ORDER BY bytes DESC LIMIT $2`,
      [ctx.threshold('min_bytes')],
    );
    if (total === 0) return { status: 'ok', summary: 'no large index is unused' };
    const wasted = evidence.reduce((sum, row) => sum + Number(row.bytes), 0);
    return {
      status: 'warn',
      summary: `${plural(total, 'index', 'indexes')} never scanned, ${formatBytes(wasted)} in the top ${evidence.length}`,
      evidence: evidence.map((row) => ({ ...row, size: formatBytes(Number(row.bytes)) })),
      evidenceTotal: total,
    };
  },
};

export const duplicateIndexes: CheckDefinition = {
  id: 'duplicate_indexes',
  title: 'Duplicate indexes',
  description:
    'Indexes whose columns are a leading prefix of (or equal to) another index on the same table with the same method, opclasses, expressions and predicate.',
  thresholds: [],
  remediation: {
    procedure: 'postgres-health#drop-unused-index',
    params: { schema: 'schema', index: 'redundant_index' },
    text: 'Drop the redundant index (DROP INDEX CONCURRENTLY); the covering index serves its queries.',
  },
  async run(ctx) {
    // a is redundant when its keys lead b's keys; with equal keys, a unique index beats a
    // plain one and the newer of two equals is the one to drop.
    const { evidence, total } = await topRows(
      ctx,
      `WITH redundant AS (
       -- One row per redundant index, however many indexes cover it.
       SELECT DISTINCT ON (a.indexrelid) (SELECT nspname FROM pg_namespace WHERE oid = ca.relnamespace) AS schema, a.indrelid::regclass::text AS table,
              ca.relname AS redundant_index, cb.relname AS covering_index,
              pg_get_indexdef(a.indexrelid) AS redundant_definition, ${indexBytes('ca')}::float8 AS bytes
         FROM pg_index a
         JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
         JOIN pg_class ca ON ca.oid = a.indexrelid
         JOIN pg_class cb ON cb.oid = b.indexrelid
        WHERE ca.relam = cb.relam AND a.indisvalid AND b.indisvalid AND NOT a.indisprimary
          -- An index behind a constraint (unique, exclusion: the index depends on it) or used by a
          -- foreign key (the key depends on it) is not droppable. Asked of pg_depend, indexed both
          -- ways, rather than of pg_constraint.conindid, which has no index: a scan of every
          -- constraint (one per table at least) for the few pairs that get this far.
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = a.indexrelid
                             AND d.refclassid = 'pg_constraint'::regclass)
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = a.indexrelid
                             AND d.classid = 'pg_constraint'::regclass)
          AND ca.relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')
          AND ca.relnamespace::regnamespace::text NOT LIKE 'pg_toast%'
          AND pg_get_expr(a.indexprs, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indexprs, b.indrelid)
          AND pg_get_expr(a.indpred, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indpred, b.indrelid)
          AND (
                (b.indkey::text LIKE a.indkey::text || ' %' AND b.indclass::text LIKE a.indclass::text || ' %'
                   AND b.indcollation::text LIKE a.indcollation::text || ' %'
                   AND b.indoption::text LIKE a.indoption::text || ' %' AND NOT a.indisunique)
             OR (b.indkey::text = a.indkey::text AND b.indclass::text = a.indclass::text
                   AND b.indcollation::text = a.indcollation::text AND b.indoption::text = a.indoption::text
                   AND ((b.indisunique AND NOT a.indisunique)
                        OR (a.indisunique = b.indisunique AND a.indexrelid > b.indexrelid)))
              )
        ORDER BY a.indexrelid, b.indexrelid
       )
       SELECT *, count(*) OVER ()::int AS total_rows FROM redundant ORDER BY bytes DESC, redundant_index LIMIT $1`,
    );
    if (total === 0) return { status: 'ok', summary: 'no duplicate indexes' };
    const top = evidence[0]!;
    return {
      status: 'warn',
      summary: `${plural(total, 'redundant index', 'redundant indexes')}; ${top.redundant_index} is covered by ${top.covering_index}`,
      evidence,
      evidenceTotal: total,
    };
  },
};

export const invalidIndexes: CheckDefinition = {
  id: 'invalid_indexes',
  title: 'Invalid indexes',
  description:
    'Indexes left INVALID by a failed CREATE INDEX CONCURRENTLY: never used by queries, yet still maintained on writes. Builds in progress are skipped.',
  thresholds: [],
  remediation: {
    procedure: 'postgres-health#rebuild-invalid-index',
    params: { schema: 'schema', index: 'index' },
    text: 'DROP INDEX CONCURRENTLY the invalid index, fix the cause (duplicates for a unique index), and create it again.',
  },
  async run(ctx) {
    const { evidence, total } = await topRows(
      ctx,
      `SELECT (SELECT nspname FROM pg_namespace WHERE oid = c.relnamespace) AS schema, i.indrelid::regclass::text AS table, c.relname AS index,
              pg_get_indexdef(i.indexrelid) AS definition, count(*) OVER ()::int AS total_rows
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE NOT i.indisvalid
          AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
        ORDER BY c.relname LIMIT $1`,
    );
    if (total === 0) return { status: 'ok', summary: 'no invalid indexes' };
    // Other roles' index builds in progress are only visible with pg_read_all_stats.
    const caveat = ctx.server.canReadAllStats
      ? ''
      : " (without pg_read_all_stats, another role's CREATE INDEX CONCURRENTLY still running looks the same)";
    return {
      status: 'warn',
      summary: `${plural(total, 'invalid index', 'invalid indexes')}: ${evidence.map((row) => row.index).join(', ')}${caveat}`,
      evidence,
      evidenceTotal: total,
    };
  },
};

export const missingIndexes: CheckDefinition = {
  id: 'missing_indexes',
  title: 'Sequential scans on large tables',
  description:
    'Large tables read mostly by sequential scans (index use below the threshold): usually a missing index.',
  thresholds: [
    { key: 'warn', unit: 'percent', default: 95, description: 'index-scan share below' },
    { key: 'min_rows', unit: 'count', default: 10_000, description: 'smaller tables are ignored' },
  ],
  remediation: {
    procedure: 'postgres-health#investigate-slow-query',
    text: 'Find the statements scanning the table (slow_queries), EXPLAIN them and add an index (CREATE INDEX CONCURRENTLY).',
  },
  async run(ctx) {
    const warn = ctx.threshold('warn');
    const { evidence, total } = await topRows(
      ctx,
      `SELECT n.nspname AS schema, t.relname AS table, t.n_live_tup::float8 AS live_rows, t.seq_scan::float8 AS seq_scans,
              coalesce(x.idx_scan, 0)::float8 AS index_scans, pg_stat_get_tuples_returned(t.oid)::float8 AS rows_read_by_seq_scans,
              round(100.0 * coalesce(x.idx_scan, 0) / nullif(t.seq_scan + coalesce(x.idx_scan, 0), 0), 1)::float8 AS index_use_pct,
              count(*) OVER ()::int AS total_rows
         FROM (SELECT c.oid, c.relnamespace, c.relname,
                      pg_stat_get_live_tuples(c.oid) AS n_live_tup, pg_stat_get_numscans(c.oid) AS seq_scan
                 FROM pg_class c
                WHERE ${STAT_TABLE_KINDS} AND pg_stat_get_live_tuples(c.oid) >= $1 AND pg_stat_get_numscans(c.oid) > 0) t
         JOIN pg_namespace n ON n.oid = t.relnamespace
         -- Index scans summed as pg_stat_user_tables.idx_scan does, only for the large tables.
         CROSS JOIN LATERAL (SELECT sum(pg_stat_get_numscans(i.indexrelid))::bigint AS idx_scan
                               FROM pg_index i WHERE i.indrelid = t.oid) x
        WHERE ${STAT_TABLE_SCHEMAS}
          AND 100.0 * coalesce(x.idx_scan, 0) / (t.seq_scan + coalesce(x.idx_scan, 0)) < $2
        ORDER BY rows_read_by_seq_scans DESC, 1, 2 LIMIT $3`,
      [ctx.threshold('min_rows'), warn],
    );
    if (total === 0) return { status: 'ok', summary: 'large tables are read through indexes' };
    const top = evidence[0]!;
    return {
      status: 'warn',
      summary: `${plural(total, 'large table')} mostly read by sequential scans; ${top.schema}.${top.table} uses an index ${top.index_use_pct}% of the time`,
      evidence,
      evidenceTotal: total,
    };
  },
};

export const unindexedForeignKeys: CheckDefinition = {
  id: 'unindexed_foreign_keys',
  title: 'Unindexed foreign keys',
  description:
    'Foreign keys whose columns do not lead any index: deletes and updates on the parent scan the child table, and joins are slow.',
  thresholds: [],
  remediation: {
    procedure: 'postgres-health#investigate-slow-query',
    text: 'CREATE INDEX CONCURRENTLY on the foreign-key columns of the child table.',
  },
  async run(ctx) {
    const { evidence, total } = await topRows(
      ctx,
      // Names are spelled (regclass, regnamespace: a catalog lookup and a search_path walk
      // each) only for the rows shown: spelled for every unindexed key, 25,000 of them in a
      // multi-tenant schema, they took a second. So the order is schema, table, constraint.
      `WITH unindexed AS MATERIALIZED (
         -- First the keys without an index, so that a healthy schema never reads table names.
         SELECT con.oid, con.conrelid, con.connamespace, con.conname
           FROM pg_constraint con
          WHERE con.contype = 'f'
            AND NOT EXISTS (
                  SELECT 1 FROM pg_index i
                   WHERE i.indrelid = con.conrelid AND i.indisvalid AND i.indpred IS NULL
                     AND cardinality(con.conkey) <= i.indnkeyatts
                     AND (i.indkey::int2[])[0:cardinality(con.conkey) - 1] @> con.conkey
                     AND (i.indkey::int2[])[0:cardinality(con.conkey) - 1] <@ con.conkey)
       ), shown AS (
         SELECT u.oid, n.nspname, c.relname, u.conname, count(*) OVER ()::int AS total_rows
           FROM unindexed u
           JOIN pg_namespace n ON n.oid = u.connamespace
           JOIN pg_class c ON c.oid = u.conrelid
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          ORDER BY n.nspname, c.relname, u.conname LIMIT $1
       )
       SELECT con.connamespace::regnamespace::text AS schema, con.conrelid::regclass::text AS table, con.conname AS constraint,
              con.confrelid::regclass::text AS references,
              (SELECT string_agg(a.attname, ', ' ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
              s.total_rows
         FROM shown s JOIN pg_constraint con ON con.oid = s.oid
        ORDER BY s.nspname, s.relname, s.conname`,
    );
    if (total === 0) return { status: 'ok', summary: 'every foreign key has an index' };
    return {
      status: 'warn',
      summary: `${plural(total, 'foreign key')} without an index; first: ${evidence[0]!.table} (${evidence[0]!.columns})`,
      evidence,
      evidenceTotal: total,
    };
  },
};
