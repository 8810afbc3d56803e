import { plural } from '../../text.js';
import { topRows } from '../checkKit.js';
import type { CheckDefinition } from '../types.js';

// pg_trigger.tgtype bits (src/include/catalog/pg_trigger.h)
const TIMING_BITS = 2 | 64; // BEFORE, INSTEAD; neither means AFTER
const ROW_BIT = 1;
const EVENT_BITS = 4 | 8 | 16 | 32; // INSERT, DELETE, UPDATE, TRUNCATE

const DESCRIBE_TYPE = (alias: string) => `
  CASE WHEN ${alias}.tgtype & 2 <> 0 THEN 'BEFORE' WHEN ${alias}.tgtype & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END`;

export const duplicateTriggers: CheckDefinition = {
  id: 'duplicate_triggers',
  title: 'Duplicate triggers',
  description:
    'Two or more enabled triggers on the same table running the same function with the same arguments, columns, WHEN clause, timing, level and firing mode on an overlapping event (seed: "same trigger fires twice"). One trigger on INSERT OR UPDATE is not a duplicate.',
  thresholds: [],
  remediation: {
    procedure: 'postgres-health#drop-duplicate-trigger',
    params: { schema: 'schema', table: 'table', trigger: 'second_trigger' },
    text: 'Drop all but one of the triggers (DROP TRIGGER … ON …) in one transaction; check rows they processed twice.',
  },
  async run(ctx) {
    // Pairs, not information_schema rows: that view lists a trigger once per event, which
    // makes a single INSERT OR UPDATE trigger look like two.
    const { evidence, total } = await topRows(
      ctx,
      `WITH pairs AS (
         SELECT a.tgrelid, a.tgfoid, a.tgname AS first_trigger, b.tgname AS second_trigger,
                ${DESCRIBE_TYPE('a')} AS timing,
                CASE WHEN a.tgtype & ${ROW_BIT} <> 0 THEN 'ROW' ELSE 'STATEMENT' END AS level,
                concat_ws(' OR ',
                  CASE WHEN a.tgtype & b.tgtype & 4 <> 0 THEN 'INSERT' END,
                  CASE WHEN a.tgtype & b.tgtype & 16 <> 0 THEN 'UPDATE' END,
                  CASE WHEN a.tgtype & b.tgtype & 8 <> 0 THEN 'DELETE' END,
                  CASE WHEN a.tgtype & b.tgtype & 32 <> 0 THEN 'TRUNCATE' END) AS shared_events
           FROM pg_trigger a
           JOIN pg_trigger b ON b.tgrelid = a.tgrelid AND b.tgfoid = a.tgfoid AND b.oid > a.oid
          WHERE NOT a.tgisinternal AND NOT b.tgisinternal
            AND a.tgenabled <> 'D' AND b.tgenabled <> 'D'
            AND a.tgtype & ${TIMING_BITS} = b.tgtype & ${TIMING_BITS}
            AND a.tgtype & ${ROW_BIT} = b.tgtype & ${ROW_BIT}
            AND a.tgtype & b.tgtype & ${EVENT_BITS} <> 0
            AND a.tgargs = b.tgargs
            AND a.tgattr::text = b.tgattr::text
            AND a.tgenabled = b.tgenabled
            -- Up to PG 16 the stored WHEN tree carries source offsets; equal clauses differ there.
            AND regexp_replace(a.tgqual::text, ':location -?\\d+', '', 'g')
                IS NOT DISTINCT FROM regexp_replace(b.tgqual::text, ':location -?\\d+', '', 'g')
       )
       SELECT (SELECT nspname FROM pg_namespace WHERE oid = c.relnamespace) AS schema, c.relname AS table, tgfoid::regprocedure::text AS function,
              timing, level, shared_events, first_trigger, second_trigger, count(*) OVER ()::int AS total_rows
         FROM pairs JOIN pg_class c ON c.oid = pairs.tgrelid
        ORDER BY 1, 2, first_trigger LIMIT $1`,
    );
    if (total === 0) return { status: 'ok', summary: 'no table runs the same trigger function twice' };
    const top = evidence[0]!;
    return {
      status: 'warn',
      summary: `${plural(total, 'duplicate trigger pair')}; ${top.schema}.${top.table} runs ${top.function} twice ${top.timing} ${top.shared_events} (${top.first_trigger}, ${top.second_trigger})`,
      evidence,
      evidenceTotal: total,
    };
  },
};

export const disabledTriggers: CheckDefinition = {
  id: 'disabled_triggers',
  title: 'Disabled triggers',
  description:
    'Triggers switched off with ALTER TABLE … DISABLE TRIGGER. A disabled internal trigger means a foreign key is not enforced (critical).',
  thresholds: [],
  remediation: {
    procedure: 'postgres-health#enable-trigger',
    params: { schema: 'schema', table: 'table', trigger: 'trigger' },
    text: 'ALTER TABLE … ENABLE TRIGGER … once the reason it was disabled (a bulk load?) is over; re-check foreign-key data.',
  },
  async run(ctx) {
    const { evidence, total } = await topRows(
      ctx,
      `SELECT (SELECT nspname FROM pg_namespace WHERE oid = c.relnamespace) AS schema, c.relname AS table, t.tgname AS trigger,
              t.tgisinternal AS enforces_constraint, t.tgfoid::regprocedure::text AS function,
              count(*) OVER ()::int AS total_rows
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE t.tgenabled = 'D' AND c.relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')
        ORDER BY t.tgisinternal DESC, 1, 2, 3 LIMIT $1`,
    );
    if (total === 0) return { status: 'ok', summary: 'no disabled triggers' };
    const constraintTriggers = evidence.filter((row) => row.enforces_constraint).length;
    return {
      status: constraintTriggers > 0 ? 'critical' : 'warn',
      summary:
        constraintTriggers > 0
          ? `${plural(total, 'disabled trigger')}, including foreign-key enforcement on ${evidence[0]!.schema}.${evidence[0]!.table}`
          : `${plural(total, 'disabled trigger')}: ${evidence.map((row) => `${row.table}.${row.trigger}`).join(', ')}`,
      evidence,
      evidenceTotal: total,
    };
  },
};
