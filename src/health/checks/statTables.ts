/**
 * The tables pg_stat_user_tables lists, read from pg_class directly: that view groups every
 * table with its indexes and computes some twenty statistics per table (0.2-0.3 s on 50,000
 * tables), where a check needs two or three and can drop most tables after the first. TOAST
 * tables, the only relations in the pg_toast schemas, are left out by kind; a filter on
 * statistics written beside STAT_TABLE_KINDS runs in the scan of pg_class, before any join.
 * Both expect pg_class as c and pg_namespace as n.
 */
export const STAT_TABLE_KINDS = "c.relkind IN ('r', 'm', 'p')";
export const STAT_TABLE_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema')";
