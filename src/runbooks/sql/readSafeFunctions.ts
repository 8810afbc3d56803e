import type { Risk } from '../model.js';

/**
 * Functions a Check may call: built-ins that read and compute, never write, lock, signal or
 * change settings. Anything not here makes the statement an Action, unless the runbook's
 * author vouches for it with `<!-- runbook: readonly=fn -->`. Names are matched lower-case
 * with any `pg_catalog.` prefix removed.
 */
export const READ_SAFE_FUNCTIONS: ReadonlySet<string> = new Set(
  `
  count sum avg min max string_agg array_agg bool_and bool_or every bit_and bit_or json_agg jsonb_agg
  json_object_agg jsonb_object_agg percentile_cont percentile_disc mode stddev stddev_pop stddev_samp
  variance var_pop var_samp corr covar_pop covar_samp regr_slope
  row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
  now clock_timestamp statement_timestamp transaction_timestamp timeofday date_trunc date_part extract
  age to_char to_date to_timestamp to_number make_interval make_date make_timestamp make_timestamptz
  justify_interval justify_days justify_hours isfinite date_bin
  abs ceil ceiling floor round trunc mod power sqrt cbrt exp ln log log10 sign greatest least div
  width_bucket random pi degrees radians
  length char_length octet_length bit_length lower upper initcap substring substr left right replace
  split_part trim btrim ltrim rtrim lpad rpad concat concat_ws format position strpos reverse repeat
  regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_split_to_table regexp_like
  regexp_count regexp_substr starts_with translate ascii chr md5 sha256 encode decode quote_ident
  quote_literal quote_nullif quote_nullable to_hex string_to_array array_to_string unnest
  generate_series generate_subscripts array_length array_lower array_upper cardinality array_position
  array_positions array_remove array_append array_prepend array_cat array_dims
  json_build_object jsonb_build_object json_build_array jsonb_build_array to_json to_jsonb row_to_json
  array_to_json json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text
  jsonb_array_length json_array_length jsonb_typeof json_typeof jsonb_each json_each jsonb_each_text
  json_each_text jsonb_object_keys json_object_keys jsonb_array_elements json_array_elements
  jsonb_array_elements_text json_array_elements_text jsonb_pretty jsonb_strip_nulls jsonb_path_query
  jsonb_path_exists jsonb_set jsonb_insert
  nullif coalesce
  pg_size_pretty pg_size_bytes pg_total_relation_size pg_relation_size pg_table_size pg_indexes_size
  pg_database_size pg_tablespace_size pg_column_size pg_relation_filenode pg_relation_filepath
  pg_blocking_pids pg_safe_snapshot_blocking_pids pg_backend_pid pg_postmaster_start_time
  pg_conf_load_time pg_is_in_recovery pg_last_xact_replay_timestamp pg_last_wal_receive_lsn
  pg_last_wal_replay_lsn pg_current_wal_lsn pg_current_wal_insert_lsn pg_current_wal_flush_lsn
  pg_wal_lsn_diff pg_walfile_name pg_is_wal_replay_paused pg_get_wal_replay_pause_state
  pg_control_checkpoint pg_control_system pg_stat_get_activity pg_stat_get_backend_pid
  pg_stat_get_numscans pg_stat_get_live_tuples pg_stat_get_dead_tuples
  pg_get_indexdef pg_get_triggerdef pg_get_functiondef pg_get_constraintdef pg_get_viewdef
  pg_get_expr pg_get_userbyid pg_get_serial_sequence pg_get_function_arguments
  pg_get_function_result pg_get_function_identity_arguments pg_get_ruledef pg_get_keywords
  pg_index_column_has_property pg_indexam_has_property pg_relation_is_updatable
  obj_description col_description shobj_description format_type pg_typeof to_regclass to_regproc
  to_regtype to_regrole to_regnamespace current_setting current_database current_schema
  current_schemas version inet_server_addr inet_server_port inet_client_addr inet_client_port
  has_table_privilege has_schema_privilege has_database_privilege has_column_privilege
  has_function_privilege has_sequence_privilege pg_has_role row_security_active
  pg_table_is_visible pg_function_is_visible pg_type_is_visible txid_current_snapshot
  txid_snapshot_xmin txid_snapshot_xmax pg_current_snapshot pg_snapshot_xmin pg_snapshot_xmax
  pg_xact_commit_timestamp age mxid_age pg_stat_statements pg_stat_statements_info
  pg_sequence_last_value pg_get_replica_identity_index currval lastval txid_current_if_assigned
  pg_current_xact_id_if_assigned gen_random_uuid
  pg_partition_tree pg_partition_root pg_partition_ancestors pg_options_to_table
  host hostmask network netmask family masklen abbrev
  `
    .split(/\s+/)
    .filter(Boolean),
);

/** Functions with effects, how risky calling them is, and why, in words for the runbook author. */
const EFFECTFUL_FUNCTIONS: ReadonlyMap<string, { risk: Risk; reason: string }> = new Map([
  ['pg_terminate_backend', { risk: 'high', reason: 'terminates backends (pg_terminate_backend)' }],
  ['pg_cancel_backend', { risk: 'medium', reason: 'cancels running queries (pg_cancel_backend)' }],
  ['pg_notify', { risk: 'low', reason: 'sends a notification (pg_notify)' }],
  ['set_config', { risk: 'low', reason: 'changes a setting (set_config)' }],
  ['pg_sleep', { risk: 'low', reason: 'sleeps (pg_sleep), holding a connection' }],
  ['pg_sleep_for', { risk: 'low', reason: 'sleeps (pg_sleep_for), holding a connection' }],
  ['pg_sleep_until', { risk: 'low', reason: 'sleeps (pg_sleep_until), holding a connection' }],
  ['nextval', { risk: 'medium', reason: 'advances a sequence (nextval)' }],
  ['setval', { risk: 'high', reason: 'sets a sequence (setval)' }],
  ['txid_current', { risk: 'low', reason: 'assigns a transaction id (txid_current)' }],
  ['pg_current_xact_id', { risk: 'low', reason: 'assigns a transaction id (pg_current_xact_id)' }],
  ['pg_reload_conf', { risk: 'medium', reason: 'reloads the server configuration (pg_reload_conf)' }],
  ['pg_rotate_logfile', { risk: 'low', reason: 'rotates the log file (pg_rotate_logfile)' }],
  ['pg_switch_wal', { risk: 'medium', reason: 'switches WAL files (pg_switch_wal)' }],
  [
    'pg_drop_replication_slot',
    { risk: 'high', reason: 'drops a replication slot (pg_drop_replication_slot)' },
  ],
  ['pg_create_physical_replication_slot', { risk: 'medium', reason: 'creates a replication slot' }],
  ['pg_create_logical_replication_slot', { risk: 'medium', reason: 'creates a replication slot' }],
  ['pg_stat_reset', { risk: 'low', reason: 'resets statistics (pg_stat_reset)' }],
  ['pg_stat_reset_shared', { risk: 'low', reason: 'resets statistics (pg_stat_reset_shared)' }],
  ['pg_stat_reset_single_table_counters', { risk: 'low', reason: 'resets statistics' }],
  ['pg_stat_statements_reset', { risk: 'low', reason: 'resets pg_stat_statements' }],
  ['pg_advisory_lock', { risk: 'medium', reason: 'takes an advisory lock' }],
  ['pg_advisory_xact_lock', { risk: 'medium', reason: 'takes an advisory lock' }],
  ['pg_try_advisory_lock', { risk: 'medium', reason: 'takes an advisory lock' }],
  ['pg_advisory_unlock', { risk: 'medium', reason: 'releases an advisory lock' }],
  ['pg_advisory_unlock_all', { risk: 'medium', reason: 'releases advisory locks' }],
  ['dblink', { risk: 'high', reason: 'runs SQL elsewhere (dblink)' }],
  ['dblink_exec', { risk: 'high', reason: 'runs SQL elsewhere (dblink_exec)' }],
  ['lo_unlink', { risk: 'high', reason: 'deletes a large object (lo_unlink)' }],
  ['lo_import', { risk: 'medium', reason: 'reads a server file into a large object (lo_import)' }],
  ['lo_export', { risk: 'high', reason: 'writes a server file (lo_export)' }],
  ['pg_read_file', { risk: 'medium', reason: 'reads a server file (pg_read_file)' }],
  ['pg_promote', { risk: 'high', reason: 'promotes a standby (pg_promote)' }],
  ['pg_logical_slot_get_changes', { risk: 'high', reason: 'consumes a replication slot’s changes' }],
  ['pg_logical_slot_get_binary_changes', { risk: 'high', reason: 'consumes a replication slot’s changes' }],
  ['pg_replication_slot_advance', { risk: 'high', reason: 'advances a replication slot' }],
  ['pg_create_restore_point', { risk: 'low', reason: 'writes a WAL restore point' }],
  ['pg_backup_start', { risk: 'medium', reason: 'starts a backup' }],
  ['pg_backup_stop', { risk: 'medium', reason: 'stops a backup' }],
  ['pg_wal_replay_pause', { risk: 'high', reason: 'pauses WAL replay on a standby' }],
  ['pg_wal_replay_resume', { risk: 'medium', reason: 'resumes WAL replay' }],
  ['pg_log_backend_memory_contexts', { risk: 'low', reason: 'writes to the server log' }],
  ['pg_import_system_collations', { risk: 'medium', reason: 'creates collations' }],
  ['gin_clean_pending_list', { risk: 'low', reason: 'changes a GIN index' }],
  ['pg_prewarm', { risk: 'low', reason: 'loads a relation into the buffer cache' }],
]);

/**
 * Families of functions with effects, by name prefix, so a variant missing from the list
 * above (`pg_try_advisory_xact_lock_shared`, `lo_put`, `dblink_send_query`) is still known.
 */
const EFFECTFUL_PREFIXES: ReadonlyArray<[prefix: string, effect: { risk: Risk; reason: string }]> = [
  ['pg_terminate_', { risk: 'high', reason: 'terminates backends' }],
  ['pg_advisory_', { risk: 'medium', reason: 'takes or releases an advisory lock' }],
  ['pg_try_advisory_', { risk: 'medium', reason: 'takes an advisory lock' }],
  ['pg_stat_reset', { risk: 'low', reason: 'resets statistics' }],
  ['pg_stat_statements_reset', { risk: 'low', reason: 'resets pg_stat_statements' }],
  ['pg_create_', { risk: 'medium', reason: 'creates a replication slot or restore point' }],
  ['pg_drop_', { risk: 'high', reason: 'drops a replication slot' }],
  ['pg_copy_', { risk: 'medium', reason: 'copies a replication slot' }],
  ['pg_replication_origin_', { risk: 'medium', reason: 'changes replication origins' }],
  ['pg_logical_emit_', { risk: 'low', reason: 'writes a message to the WAL' }],
  ['pg_file_', { risk: 'high', reason: 'writes or removes server files' }],
  ['pg_read_', { risk: 'medium', reason: 'reads server files' }],
  ['pg_sleep', { risk: 'low', reason: 'sleeps, holding a connection' }],
  ['brin_', { risk: 'low', reason: 'changes a BRIN index' }],
  ['dblink', { risk: 'high', reason: 'runs SQL on another server (dblink)' }],
  ['lo_', { risk: 'medium', reason: 'works on large objects' }],
  ['lowrite', { risk: 'medium', reason: 'writes a large object' }],
  ['pg_signal_', { risk: 'high', reason: 'signals backends' }],
  // Escape hatches READ ONLY does not close: SQL run elsewhere, HTTP calls, work handed to
  // background workers, statistics written into the catalog (PostgreSQL 18).
  ['postgres_fdw_', { risk: 'medium', reason: 'manages foreign-server connections' }],
  ['http', { risk: 'high', reason: 'makes an HTTP request' }],
  ['pg_background_', { risk: 'high', reason: 'runs SQL in a background worker' }],
  ['pg_restore_', { risk: 'medium', reason: 'writes planner statistics' }],
  ['pg_clear_', { risk: 'medium', reason: 'clears planner statistics' }],
  ['pg_sync_replication_slots', { risk: 'medium', reason: 'synchronizes replication slots' }],
  ['binary_upgrade_', { risk: 'high', reason: 'changes the catalog for pg_upgrade' }],
];

/** What calling the function does, when it is known to do something; `undefined` otherwise. */
export function knownEffect(name: string): { risk: Risk; reason: string } | undefined {
  const exact = EFFECTFUL_FUNCTIONS.get(name);
  if (exact) return exact;
  const family = EFFECTFUL_PREFIXES.find(([prefix]) => name.startsWith(prefix));
  return family ? { risk: family[1].risk, reason: `${family[1].reason} (${name})` } : undefined;
}

/**
 * The parser folds unquoted names to lower case already; a quoted "Lower" keeps its case and
 * is another function than lower, so it must not be matched against the allowlist as lower.
 */
export function normalizeFunctionName(parts: string[]): string {
  return parts[0] === 'pg_catalog' ? parts.slice(1).join('.') : parts.join('.');
}
