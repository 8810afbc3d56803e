import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeSqlBlock, loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { knownEffect, READ_SAFE_FUNCTIONS } from '../../src/runbooks/sql/readSafeFunctions.js';

/**
 * Every distinct statement of the five seed runbooks, verbatim, with the class, kind and
 * risk a reviewer decided it must have. A Check here runs without anyone's approval, so a
 * change to this table deserves a second look.
 */
const SEED_CORPUS: Array<[sql: string, klass: 'check' | 'action', kind: string, risk?: string]> = [
  // Seed 000, "Prevention Steps" (outside any issue procedure, still SQL an operator may run).
  ["SELECT pg_notify('pgrst', 'reload schema')", 'action', 'SELECT', 'low'],
  ["SELECT pg_notify('pgrst', 'reload config')", 'action', 'SELECT', 'low'],
  [
    'CREATE VIEW jobs_view AS\nSELECT * FROM jobs j\nJOIN customers c ON j.customer_id = c.id',
    'action',
    'CREATE VIEW',
    'medium',
  ],
  [
    'CREATE VIEW jobs_view AS\nSELECT \n  j.id as job_id,\n  j.job_number,\n  c.id as customer_id,\n  c.name as customer_name\nFROM jobs j\nLEFT JOIN customers c ON j.customer_id = c.id',
    'action',
    'CREATE VIEW',
    'medium',
  ],
  ['GRANT SELECT ON new_table TO anon, authenticated', 'action', 'GRANT', 'high'],
  [
    "SELECT count(*) as active_connections \nFROM pg_stat_activity \nWHERE state = 'active'",
    'check',
    'SELECT',
  ],
  [
    "SELECT query, query_start, state, wait_event_type, wait_event\nFROM pg_stat_activity \nWHERE state != 'idle' \n  AND query_start < NOW() - INTERVAL '1 second'",
    'check',
    'SELECT',
  ],
  [
    "SELECT \n  schemaname,\n  tablename,\n  pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) as size\nFROM pg_tables \nWHERE schemaname = 'public'\nORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC",
    'check',
    'SELECT',
  ],
  ['SELECT * FROM verify_user_registration_system()', 'action', 'SELECT', 'medium'],
  [
    'SELECT u.id, u.email, u.created_at, p.id as profile_id\nFROM auth.users u\nLEFT JOIN profiles p ON u.id = p.id\nWHERE p.id IS NULL\nORDER BY u.created_at DESC\nLIMIT 10',
    'check',
    'SELECT',
  ],
  [
    "INSERT INTO profiles (id, name, created_at)\nSELECT \n  u.id,\n  COALESCE(u.raw_user_meta_data->>'name', u.email),\n  u.created_at\nFROM auth.users u\nLEFT JOIN profiles p ON u.id = p.id\nWHERE p.id IS NULL",
    'action',
    'INSERT',
    'medium',
  ],
  [
    "SELECT \n  trigger_name, \n  event_manipulation, \n  event_object_table,\n  action_statement\nFROM information_schema.triggers\nWHERE trigger_name = 'on_auth_user_created'",
    'check',
    'SELECT',
  ],
  [
    "EXPLAIN ANALYZE \nSELECT hr.*, p.name, p.location \nFROM help_requests hr\nJOIN profiles p ON hr.user_id = p.id\nWHERE hr.status = 'open'\nORDER BY hr.urgency DESC, hr.created_at DESC\nLIMIT 20",
    'action',
    'EXPLAIN ANALYZE',
    'medium',
  ],
  [
    "SELECT schemaname, tablename, indexname, idx_scan\nFROM pg_stat_user_indexes\nWHERE schemaname = 'public'\n  AND idx_scan = 0",
    'check',
    'SELECT',
  ],
  [
    'CREATE INDEX CONCURRENTLY idx_help_requests_status_urgency_created \nON help_requests(status, urgency, created_at DESC)',
    'action',
    'CREATE INDEX CONCURRENTLY',
    'medium',
  ],
  ['ANALYZE help_requests', 'action', 'ANALYZE', 'low'],
  ['ANALYZE profiles', 'action', 'ANALYZE', 'low'],
  ['SET ROLE authenticated', 'action', 'SET ROLE', 'high'],
  ["SET request.jwt.claim.sub = '[user-uuid]'", 'action', 'SET', 'low'],
  [
    "INSERT INTO help_requests (user_id, title, category, urgency)\nVALUES ('[user-uuid]', 'Test Request', 'groceries', 'normal')",
    'action',
    'INSERT',
    'medium',
  ],
  [
    "SELECT schemaname, tablename, policyname, permissive, cmd, qual\nFROM pg_policies\nWHERE tablename = 'help_requests'",
    'check',
    'SELECT',
  ],
  ["SELECT p.id, p.name \nFROM profiles p \nWHERE p.id = '[user-uuid]'", 'check', 'SELECT'],
  [
    "SELECT ce.*, hr.title\nFROM contact_exchanges ce\nJOIN help_requests hr ON ce.request_id = hr.id\nWHERE ce.confirmed_at IS NULL\n  AND ce.exchanged_at < NOW() - INTERVAL '24 hours'",
    'check',
    'SELECT',
  ],
  [
    "SELECT \n  ce.id,\n  ce.request_id,\n  ce.helper_id,\n  ce.requester_id,\n  ce.exchanged_at,\n  ce.confirmed_at,\n  hr.title\nFROM contact_exchanges ce\nJOIN help_requests hr ON ce.request_id = hr.id\nWHERE ce.exchanged_at > NOW() - INTERVAL '1 hour'\nORDER BY ce.exchanged_at DESC",
    'check',
    'SELECT',
  ],
  ['SELECT * FROM verify_rls_security()', 'action', 'SELECT', 'medium'],
  [
    "SELECT policyname, cmd, qual \nFROM pg_policies \nWHERE tablename = 'contact_exchanges'",
    'check',
    'SELECT',
  ],
  [
    "DELETE FROM contact_exchanges\nWHERE confirmed_at IS NULL\n  AND exchanged_at < NOW() - INTERVAL '48 hours'",
    'action',
    'DELETE',
    'medium',
  ],
  ["SELECT get_contact_info_with_consent('[request_id]', '[user_id]')", 'action', 'SELECT', 'medium'],
  [
    "SELECT * FROM contact_exchanges\nWHERE request_id = '[request_id]'\nORDER BY exchanged_at DESC",
    'check',
    'SELECT',
  ],
  [
    "SELECT c.*, cp.user_id, cp.left_at\nFROM conversations c\nJOIN conversation_participants cp ON c.id = cp.conversation_id\nWHERE c.id = '[conversation_id]'",
    'check',
    'SELECT',
  ],
  [
    "SELECT \n  m.id,\n  m.status,\n  m.created_at,\n  m.read_at,\n  p.name as sender_name\nFROM messages m\nJOIN profiles p ON m.sender_id = p.id\nWHERE m.conversation_id = '[conversation_id]'\nORDER BY m.created_at DESC\nLIMIT 10",
    'check',
    'SELECT',
  ],
  [
    "INSERT INTO conversation_participants (conversation_id, user_id)\nVALUES ('[conversation_id]', '[user_id]')\nON CONFLICT DO NOTHING",
    'action',
    'INSERT',
    'medium',
  ],
  [
    "UPDATE conversations \nSET last_message_at = NOW(), updated_at = NOW()\nWHERE id = '[conversation_id]'",
    'action',
    'UPDATE',
    'medium',
  ],
  [
    'SELECT \n  query,\n  calls,\n  total_time,\n  mean_time,\n  rows\nFROM pg_stat_statements\nWHERE mean_time > 1000  -- Queries taking > 1 second\nORDER BY mean_time DESC\nLIMIT 10',
    'check',
    'SELECT',
  ],
  [
    'SELECT \n  schemaname, \n  tablename, \n  n_dead_tup, \n  n_live_tup,\n  round(n_dead_tup * 100.0 / (n_live_tup + n_dead_tup), 1) AS dead_percentage\nFROM pg_stat_user_tables\nWHERE n_dead_tup > 0\nORDER BY dead_percentage DESC',
    'check',
    'SELECT',
  ],
  [
    'REINDEX INDEX CONCURRENTLY idx_help_requests_status_urgency_created',
    'action',
    'REINDEX CONCURRENTLY',
    'medium',
  ],
  [
    'REINDEX INDEX CONCURRENTLY idx_messages_conversation_created',
    'action',
    'REINDEX CONCURRENTLY',
    'medium',
  ],
  ["SELECT * FROM help_requests WHERE id = '[request_id]'", 'check', 'SELECT'],
  ["SELECT id, name FROM profiles WHERE id = '[user-uuid]'", 'check', 'SELECT'],
  [
    'ALTER TABLE help_requests DISABLE ROW LEVEL SECURITY',
    'action',
    'ALTER TABLE DISABLE ROW LEVEL SECURITY',
    'high',
  ],
  ['ALTER TABLE help_requests ENABLE ROW LEVEL SECURITY', 'action', 'ALTER TABLE', 'medium'],
  [
    "CREATE VIEW unhealthy_metrics AS\nSELECT \n  'Slow queries' as metric,\n  count(*) as count\nFROM pg_stat_activity \nWHERE state = 'active' \n  AND query_start < NOW() - INTERVAL '30 seconds'\nUNION ALL\nSELECT \n  'Failed help requests' as metric,\n  count(*) as count\nFROM help_requests \nWHERE created_at > NOW() - INTERVAL '1 hour'\n  AND status IS NULL",
    'action',
    'CREATE VIEW',
    'medium',
  ],
  [
    "SELECT \n  j.job_number,\n  j.customer_id,\n  c.name as customer_name,\n  c.phone\nFROM jobs_db j\nLEFT JOIN customers_db c ON c.id = j.customer_id\nWHERE j.job_number = 'JB2025-0061'",
    'check',
    'SELECT',
  ],
  [
    "UPDATE jobs_db\nSET customer_id = (SELECT id FROM customers_db WHERE phone = '0422408306')\nWHERE job_number = 'JB2025-0061'",
    'action',
    'UPDATE',
    'medium',
  ],
  [
    "SELECT \n  trigger_name,\n  event_object_table,\n  COUNT(*) as occurrences\nFROM information_schema.triggers\nWHERE trigger_schema = 'public'\nGROUP BY trigger_name, event_object_table\nHAVING COUNT(*) > 1",
    'check',
    'SELECT',
  ],
  ['DROP TRIGGER IF EXISTS trigger_name ON table_name', 'action', 'DROP TRIGGER', 'high'],
  [
    'CREATE TRIGGER trigger_name\n  BEFORE UPDATE ON table_name\n  FOR EACH ROW\n  EXECUTE FUNCTION trigger_function()',
    'action',
    'CREATE TRIGGER',
    'high',
  ],
  [
    'SELECT \n  j.job_number,\n  j.customer_id,\n  c.name as customer_name\nFROM jobs_db j\nLEFT JOIN customers_db c ON c.id = j.customer_id\nWHERE j.deleted_at IS NULL\nORDER BY RANDOM()\nLIMIT 10',
    'check',
    'SELECT',
  ],
  [
    "UPDATE feature_flags \nSET enabled = true \nWHERE name = 'stabilization_mode'",
    'action',
    'UPDATE',
    'medium',
  ],
  ['SELECT * FROM schema_migrations \nORDER BY created_at DESC \nLIMIT 10', 'check', 'SELECT'],
  [
    "SELECT * FROM audit_log \nWHERE changed_at > NOW() - INTERVAL '2 hours'\nORDER BY changed_at DESC",
    'check',
    'SELECT',
  ],
  [
    'SELECT job_number, customer_id \nFROM jobs_db \nWHERE customer_id IS NULL \n  AND deleted_at IS NULL',
    'check',
    'SELECT',
  ],
  [
    'SELECT j.job_number, j.customer_id \nFROM jobs_db j\nLEFT JOIN customers_db c ON c.id = j.customer_id\nWHERE c.is_deleted = true \n  AND j.deleted_at IS NULL',
    'check',
    'SELECT',
  ],
  [
    'SELECT \n  job_number,\n  grand_total,\n  balance_due,\n  service_deposit\nFROM jobs_db\nWHERE grand_total - service_deposit != balance_due\n  AND deleted_at IS NULL',
    'check',
    'SELECT',
  ],
  [
    "SELECT \n  table_name,\n  operation,\n  record_id,\n  changed_by,\n  changed_at,\n  array_length(changed_fields, 1) as fields_changed\nFROM audit_log\nWHERE changed_at > NOW() - INTERVAL '24 hours'\nORDER BY changed_at DESC\nLIMIT 50",
    'check',
    'SELECT',
  ],
  [
    "SELECT * FROM audit_log\nWHERE table_name = 'jobs_db'\n  AND record_id = '[job_id]'\nORDER BY changed_at DESC",
    'check',
    'SELECT',
  ],
  [
    'SELECT count(*) as connection_count\nFROM pg_stat_activity\nWHERE datname = current_database()',
    'check',
    'SELECT',
  ],
  [
    'SELECT \n  query,\n  mean_exec_time,\n  calls\nFROM pg_stat_statements\nWHERE mean_exec_time > 1000\nORDER BY mean_exec_time DESC\nLIMIT 10',
    'check',
    'SELECT',
  ],
  [
    "SELECT \n  schemaname,\n  tablename,\n  pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) AS size\nFROM pg_tables\nWHERE schemaname = 'public'\nORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC",
    'check',
    'SELECT',
  ],
  [
    "SELECT pid, now() - pg_stat_activity.query_start AS duration, query\nFROM pg_stat_activity\nWHERE state != 'idle'\nORDER BY duration DESC",
    'check',
    'SELECT',
  ],
  [
    "SELECT pg_terminate_backend(pid)\nFROM pg_stat_activity\nWHERE state = 'idle'\nAND query_start < now() - interval '10 minutes'",
    'action',
    'SELECT',
    'high',
  ],
  [
    'SELECT id, timestamp, event_message, metadata\nFROM auth_logs\nORDER BY timestamp DESC\nLIMIT 50',
    'check',
    'SELECT',
  ],
  [
    "SELECT email, COUNT(*), MAX(attempted_at)\nFROM login_attempts\nWHERE attempted_at > now() - interval '1 hour'\nGROUP BY email\nORDER BY COUNT(*) DESC",
    'check',
    'SELECT',
  ],
  ["DELETE FROM login_attempts WHERE email = 'user@example.com'", 'action', 'DELETE', 'medium'],
  [
    "SELECT id, recipient, subject, status, error_message, created_at\nFROM email_log\nWHERE status = 'failed'\nORDER BY created_at DESC\nLIMIT 20",
    'check',
    'SELECT',
  ],
  [
    "UPDATE email_log\nSET status = 'pending', retry_count = 0, next_retry_at = now()\nWHERE id = '[email-id]'",
    'action',
    'UPDATE',
    'medium',
  ],
  [
    'SELECT status, COUNT(*)\nFROM count_rolls\nWHERE ocr_status IS NOT NULL\nGROUP BY status',
    'check',
    'SELECT',
  ],
  [
    "SELECT l.id, l.quality, l.color, l.meters, l.reserved_meters,\n       COALESCE(SUM(rl.reserved_meters), 0) as calculated_reserved\nFROM lots l\nLEFT JOIN reservation_lines rl ON l.id = rl.lot_id\nWHERE l.status = 'in_stock'\nGROUP BY l.id\nHAVING l.reserved_meters != COALESCE(SUM(rl.reserved_meters), 0)",
    'check',
    'SELECT',
  ],
  [
    'SELECT rl.* FROM reservation_lines rl\nLEFT JOIN reservations r ON rl.reservation_id = r.id\nWHERE r.id IS NULL',
    'check',
    'SELECT',
  ],
  [
    "UPDATE lots l SET reserved_meters = (\n  SELECT COALESCE(SUM(rl.reserved_meters), 0)\n  FROM reservation_lines rl\n  JOIN reservations r ON rl.reservation_id = r.id\n  WHERE rl.lot_id = l.id AND r.status = 'active'\n)",
    'action',
    'UPDATE',
    'high',
  ],
  [
    'SELECT query, calls, mean_time, total_time\nFROM pg_stat_statements\nORDER BY mean_time DESC\nLIMIT 10',
    'check',
    'SELECT',
  ],
  ['ANALYZE lots', 'action', 'ANALYZE', 'low'],
  ['ANALYZE rolls', 'action', 'ANALYZE', 'low'],
  ['ANALYZE orders', 'action', 'ANALYZE', 'low'],
  [
    'SELECT relname, n_dead_tup, n_live_tup\nFROM pg_stat_user_tables\nWHERE n_dead_tup > 1000\nORDER BY n_dead_tup DESC',
    'check',
    'SELECT',
  ],
  ['VACUUM ANALYZE lots', 'action', 'VACUUM', 'low'],
  [
    "SELECT * FROM audit_logs\nWHERE created_at > now() - interval '24 hours'\nORDER BY created_at DESC",
    'check',
    'SELECT',
  ],
  [
    "SELECT api_key_id, COUNT(*), MAX(created_at)\nFROM api_request_logs\nWHERE created_at > now() - interval '1 minute'\nGROUP BY api_key_id\nORDER BY COUNT(*) DESC",
    'check',
    'SELECT',
  ],
  [
    "UPDATE api_keys\nSET rate_limit_per_minute = 120\nWHERE id = '[api-key-id]'",
    'action',
    'UPDATE',
    'medium',
  ],
  ["UPDATE api_keys SET is_active = false WHERE id = '[api-key-id]'", 'action', 'UPDATE', 'medium'],
  [
    'SELECT relname, pg_size_pretty(pg_total_relation_size(relid))\nFROM pg_stat_user_tables\nORDER BY pg_total_relation_size(relid) DESC',
    'check',
    'SELECT',
  ],
  ["SELECT count(*) FROM pg_stat_activity WHERE state = 'active'", 'check', 'SELECT'],
  ['SELECT * FROM pg_locks WHERE NOT granted', 'check', 'SELECT'],
  [
    "SELECT COUNT(*), status FROM orders\nWHERE created_at > now() - interval '24 hours'\nGROUP BY status",
    'check',
    'SELECT',
  ],
  [
    "SELECT action, entity_type, COUNT(*)\nFROM audit_logs\nWHERE created_at > now() - interval '24 hours'\nGROUP BY action, entity_type",
    'check',
    'SELECT',
  ],
  [
    "SELECT * FROM system_logs \nWHERE message ILIKE '%circuit%breaker%'\nORDER BY created_at DESC \nLIMIT 20",
    'check',
    'SELECT',
  ],
  [
    "SELECT level, message, context, created_at \nFROM system_logs \nWHERE level IN ('error', 'warn')\nAND created_at > now() - interval '1 hour'\nORDER BY created_at DESC",
    'check',
    'SELECT',
  ],
  ['SELECT status, COUNT(*) as count \nFROM shopify_sync_queue \nGROUP BY status', 'check', 'SELECT'],
  [
    "SELECT id, inventory_item_id, action, status, retry_count, created_at, last_error\nFROM shopify_sync_queue \nWHERE status = 'queued' \nAND created_at < now() - interval '10 minutes'\nORDER BY created_at ASC \nLIMIT 20",
    'check',
    'SELECT',
  ],
  [
    "SELECT id, inventory_item_id, action, retry_count, last_error\nFROM shopify_sync_queue \nWHERE status = 'failed'\nORDER BY created_at DESC \nLIMIT 20",
    'check',
    'SELECT',
  ],
  ["SELECT admin_clear_shopify_sync_queue('failed')", 'action', 'SELECT', 'high'],
  ["SELECT admin_clear_shopify_sync_queue('queued')", 'action', 'SELECT', 'high'],
  [
    "UPDATE shopify_sync_queue \nSET status = 'queued', \n    retry_count = 0,\n    last_error = NULL\nWHERE status = 'failed' \nAND retry_count >= max_retries",
    'action',
    'UPDATE',
    'high',
  ],
  ['SELECT status, COUNT(*) \nFROM shopify_sync_queue \nGROUP BY status', 'check', 'SELECT'],
  [
    "SELECT id, lot_number, status, total_items, total_value, created_by, created_at\nFROM intake_lots \nWHERE status = 'active'\nORDER BY created_at DESC \nLIMIT 10",
    'check',
    'SELECT',
  ],
  [
    "SELECT id, lot_id, quantity, brand_title, subject, price, removed_from_batch_at\nFROM intake_items \nWHERE lot_id = '<lot-id>'\nORDER BY created_at DESC",
    'check',
    'SELECT',
  ],
  [
    "SELECT * FROM system_logs \nWHERE context->>'lot_id' = '<lot-id>'\nORDER BY created_at DESC",
    'check',
    'SELECT',
  ],
  [
    "UPDATE intake_lots \nSET status = 'completed', \n    completed_at = now()\nWHERE id = '<lot-id>'",
    'action',
    'UPDATE',
    'medium',
  ],
  ["SELECT admin_delete_batch('<lot-id>', 'Batch stuck - manual deletion')", 'action', 'SELECT', 'high'],
  [
    "SELECT id, lot_number, status, completed_at \nFROM intake_lots \nWHERE id = '<lot-id>'",
    'check',
    'SELECT',
  ],
  [
    "SELECT sq.id, sq.inventory_item_id, sq.action, sq.status, \n       sq.retry_count, sq.last_error, sq.created_at,\n       ii.brand_title, ii.subject, ii.sku\nFROM shopify_sync_queue sq\nJOIN intake_items ii ON ii.id = sq.inventory_item_id\nWHERE sq.status = 'failed'\nORDER BY sq.created_at DESC",
    'check',
    'SELECT',
  ],
  [
    "UPDATE shopify_sync_queue \nSET status = 'queued', \n    retry_count = 0, \n    last_error = NULL\nWHERE id = '<queue-item-id>'",
    'action',
    'UPDATE',
    'medium',
  ],
  [
    "UPDATE shopify_sync_queue \nSET status = 'queued', \n    retry_count = 0, \n    last_error = NULL\nWHERE status = 'failed'",
    'action',
    'UPDATE',
    'high',
  ],
  [
    "SELECT id, email, created_at, confirmed_at \nFROM auth.users \nWHERE email = '<user-email>'",
    'check',
    'SELECT',
  ],
  [
    "SELECT ur.role, u.email \nFROM user_roles ur\nJOIN auth.users u ON u.id = ur.user_id\nWHERE u.email = '<user-email>'",
    'check',
    'SELECT',
  ],
  [
    "SELECT usa.store_key, usa.shopify_location_gid, usa.region_id\nFROM user_shopify_assignments usa\nJOIN auth.users u ON u.id = usa.user_id\nWHERE u.email = '<user-email>'",
    'check',
    'SELECT',
  ],
  [
    "INSERT INTO user_roles (user_id, role)\nSELECT id, 'admin'::app_role \nFROM auth.users \nWHERE email = '<user-email>'\nON CONFLICT (user_id, role) DO NOTHING",
    'action',
    'INSERT',
    'medium',
  ],
  [
    "INSERT INTO user_roles (user_id, role)\nSELECT id, 'staff'::app_role \nFROM auth.users \nWHERE email = '<user-email>'\nON CONFLICT (user_id, role) DO NOTHING",
    'action',
    'INSERT',
    'medium',
  ],
  [
    "INSERT INTO user_shopify_assignments (user_id, store_key, shopify_location_gid)\nSELECT id, 'your-store-key', 'gid://shopify/Location/123456'\nFROM auth.users \nWHERE email = '<user-email>'",
    'action',
    'INSERT',
    'medium',
  ],
  [
    "SELECT ur.role \nFROM user_roles ur\nJOIN auth.users u ON u.id = ur.user_id\nWHERE u.email = '<user-email>'",
    'check',
    'SELECT',
  ],
  [
    'SELECT \n  query,\n  calls,\n  mean_exec_time,\n  max_exec_time,\n  total_exec_time\nFROM pg_stat_statements\nWHERE mean_exec_time > 1000  -- Queries taking > 1 second\nORDER BY mean_exec_time DESC\nLIMIT 20',
    'check',
    'SELECT',
  ],
  [
    "SELECT \n  schemaname,\n  tablename,\n  pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) AS size\nFROM pg_tables\nWHERE schemaname = 'public'\nORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC\nLIMIT 20",
    'check',
    'SELECT',
  ],
  [
    "SELECT \n  schemaname,\n  tablename,\n  attname,\n  n_distinct,\n  correlation\nFROM pg_stats\nWHERE schemaname = 'public'\nAND n_distinct > 100\nAND correlation < 0.1",
    'check',
    'SELECT',
  ],
  [
    'CREATE INDEX CONCURRENTLY idx_intake_items_sku \nON intake_items(sku) \nWHERE deleted_at IS NULL',
    'action',
    'CREATE INDEX CONCURRENTLY',
    'medium',
  ],
  [
    'CREATE INDEX CONCURRENTLY idx_intake_items_lot_id \nON intake_items(lot_id) \nWHERE deleted_at IS NULL',
    'action',
    'CREATE INDEX CONCURRENTLY',
    'medium',
  ],
  ['VACUUM ANALYZE intake_items', 'action', 'VACUUM', 'low'],
  ['VACUUM ANALYZE shopify_sync_queue', 'action', 'VACUUM', 'low'],
  ['VACUUM ANALYZE system_logs', 'action', 'VACUUM', 'low'],
  ["DELETE FROM system_logs \nWHERE created_at < now() - interval '90 days'", 'action', 'DELETE', 'medium'],
  [
    "UPDATE intake_lots \nSET status = 'archived'\nWHERE status = 'completed' \nAND completed_at < now() - interval '6 months'",
    'action',
    'UPDATE',
    'medium',
  ],
  ['SELECT current_user, current_database()', 'check', 'SELECT'],
  [
    "SELECT * FROM system_logs \nWHERE level = 'error' \nAND message ILIKE '%auth%'\nAND created_at > now() - interval '1 hour'",
    'check',
    'SELECT',
  ],
  ['SELECT COUNT(*) FROM pg_stat_activity', 'check', 'SELECT'],
  ["SELECT * FROM pg_stat_activity WHERE wait_event_type = 'Lock'", 'check', 'SELECT'],
  ['SELECT pg_size_pretty(pg_database_size(current_database()))', 'check', 'SELECT'],
  [
    "SELECT pg_terminate_backend(pid) \nFROM pg_stat_activity \nWHERE state = 'idle in transaction' \nAND query_start < NOW() - INTERVAL '10 minutes'",
    'action',
    'SELECT',
    'high',
  ],
  [
    "SELECT query, state, query_start, \n       NOW() - query_start AS duration\nFROM pg_stat_activity \nWHERE state = 'active' \nORDER BY query_start",
    'check',
    'SELECT',
  ],
  ['SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = [PID]', 'action', 'SELECT', 'medium'],
  ['SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = [PID]', 'action', 'SELECT', 'high'],
  ['SELECT * FROM perform_routine_maintenance()', 'action', 'SELECT', 'medium'],
  ['SELECT * FROM get_storage_usage_stats()', 'action', 'SELECT', 'medium'],
  ['SELECT * FROM cleanup_orphaned_images()', 'action', 'SELECT', 'medium'],
  [
    "UPDATE orders \nSET notes = COALESCE(notes, '') || ' [ARCHIVED]'\nWHERE status = 'delivered' \nAND delivered_at < NOW() - INTERVAL '2 years'",
    'action',
    'UPDATE',
    'medium',
  ],
  ['SELECT * FROM check_system_health()', 'action', 'SELECT', 'medium'],
  [
    "SELECT title, available_quantity, store_name \nFROM inventory \nWHERE status = 'low_stock' AND is_active = true",
    'check',
    'SELECT',
  ],
  [
    "SELECT title, quantity, reserved_quantity \nFROM inventory \nWHERE status = 'out_of_stock' AND is_active = true",
    'check',
    'SELECT',
  ],
  [
    "SELECT order_number, created_at, total_amount, customer_email\nFROM orders \nWHERE status = 'pending' AND payment_status = 'paid'\nORDER BY created_at",
    'check',
    'SELECT',
  ],
  [
    "SELECT order_number, customer_name, shipping_city, shipping_state\nFROM orders \nWHERE status = 'processing' AND shipped_at IS NULL",
    'check',
    'SELECT',
  ],
  ['SELECT * FROM analyze_index_usage() LIMIT 10', 'action', 'SELECT', 'medium'],
  ['SELECT * FROM find_unused_indexes()', 'action', 'SELECT', 'medium'],
  ['SELECT * FROM validate_backup_integrity()', 'action', 'SELECT', 'medium'],
  [
    "SELECT \n    COUNT(CASE WHEN created_at::date = CURRENT_DATE THEN 1 END) as new_orders,\n    COUNT(CASE WHEN status = 'shipped' AND shipped_at::date = CURRENT_DATE THEN 1 END) as shipped_orders,\n    SUM(CASE WHEN created_at::date = CURRENT_DATE THEN total_amount ELSE 0 END) as daily_revenue\nFROM orders",
    'check',
    'SELECT',
  ],
  [
    'SELECT COUNT(*) as new_designs \nFROM designs \nWHERE created_at::date = CURRENT_DATE',
    'check',
    'SELECT',
  ],
  ["SELECT create_backup_metadata('pre_operation', 'Before inventory import')", 'action', 'SELECT', 'medium'],
  ['SELECT * FROM validate_recovery()', 'action', 'SELECT', 'medium'],
  ['SELECT * FROM prepare_disaster_recovery()', 'action', 'SELECT', 'medium'],
  [
    'SELECT query, calls, total_time, mean_time\nFROM pg_stat_statements \nORDER BY total_time DESC LIMIT 10',
    'check',
    'SELECT',
  ],
  ['SELECT * FROM analyze_index_usage() \nWHERE idx_scan < 100', 'action', 'SELECT', 'medium'],
  [
    "SELECT COUNT(DISTINCT user_id) as active_users\nFROM designs \nWHERE created_at > NOW() - INTERVAL '24 hours'",
    'check',
    'SELECT',
  ],
  [
    "SELECT \n    COUNT(CASE WHEN status != 'pending' THEN 1 END)::float / \n    COUNT(*)::float * 100 as conversion_rate\nFROM orders \nWHERE created_at > NOW() - INTERVAL '7 days'",
    'check',
    'SELECT',
  ],
  [
    'SELECT query, mean_time, calls \nFROM pg_stat_statements \nWHERE mean_time > 1000 \nORDER BY mean_time DESC',
    'check',
    'SELECT',
  ],
  ['SELECT state, COUNT(*) \nFROM pg_stat_activity \nGROUP BY state', 'check', 'SELECT'],
  [
    "SELECT pg_terminate_backend(pid) \nFROM pg_stat_activity \nWHERE state = 'idle' \nAND query_start < NOW() - INTERVAL '1 hour'",
    'action',
    'SELECT',
    'high',
  ],
  [
    'SELECT id, title, quantity, reserved_quantity, available_quantity\nFROM inventory \nWHERE available_quantity < 0',
    'check',
    'SELECT',
  ],
  ['UPDATE inventory \nSET reserved_quantity = 0 \nWHERE available_quantity < 0', 'action', 'UPDATE', 'high'],
  [
    "SELECT oi.order_id, oi.used_inventory_items\nFROM order_items oi\nJOIN orders o ON oi.order_id = o.id\nWHERE o.status = 'cancelled'",
    'check',
    'SELECT',
  ],
];

/** Cases the seeds do not have, each guarding one rule. */
const EDGE_CASES: Array<[sql: string, klass: 'check' | 'action', kind: string, risk?: string]> = [
  ['EXPLAIN SELECT * FROM jobs', 'check', 'EXPLAIN'],
  ['EXPLAIN (ANALYZE false) SELECT * FROM jobs', 'check', 'EXPLAIN'],
  ['EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM jobs', 'action', 'EXPLAIN ANALYZE', 'medium'],
  ['SHOW max_connections', 'check', 'SHOW'],
  ['WITH gone AS (DELETE FROM jobs RETURNING id) SELECT count(*) FROM gone', 'action', 'SELECT', 'high'],
  ['SELECT * FROM jobs WHERE id = 1 FOR UPDATE', 'action', 'SELECT', 'medium'],
  ['SELECT * INTO jobs_copy FROM jobs', 'action', 'SELECT INTO', 'medium'],
  ["SELECT nextval('jobs_id_seq')", 'action', 'SELECT', 'medium'],
  ['SELECT pg_catalog.pg_terminate_backend(42)', 'action', 'SELECT', 'high'],
  ["NOTIFY pgrst, 'reload schema'", 'action', 'NOTIFY', 'low'],
  ['VACUUM FULL jobs', 'action', 'VACUUM FULL', 'high'],
  ['TRUNCATE audit_log', 'action', 'TRUNCATE', 'high'],
  ['UPDATE jobs SET status = 1', 'action', 'UPDATE', 'high'],
  ['DROP INDEX CONCURRENTLY idx_jobs', 'action', 'DROP INDEX CONCURRENTLY', 'high'],
  ['DO $$ BEGIN PERFORM 1; END $$', 'action', 'DO', 'high'],
  ['BEGIN', 'action', 'BEGIN', 'medium'],
  ['SELECT pg_sleep(10)', 'action', 'SELECT', 'low'],
  ['SELECT (SELECT admin_reset()) AS nested', 'action', 'SELECT', 'high'],
  ['SELECT * FROM jobs ORDER BY lower(title), admin_rank(id)', 'action', 'SELECT', 'medium'],
  ['SELECT j.* FROM jobs j, LATERAL admin_expand(j.id) AS x', 'action', 'SELECT', 'medium'],
  ['SELECT * FROM jobs WHERE id IN (SELECT job_id FROM locks FOR SHARE)', 'action', 'SELECT', 'medium'],
  ['EXPLAIN WITH gone AS (DELETE FROM jobs RETURNING id) SELECT * FROM gone', 'action', 'EXPLAIN', 'medium'],
  ['EXPLAIN ANALYSE SELECT 1', 'action', 'EXPLAIN ANALYZE', 'medium'],
  ['EXPLAIN ANALYZE DELETE FROM jobs', 'action', 'EXPLAIN ANALYZE', 'high'],
  ['EXPLAIN UPDATE jobs SET status = 1', 'action', 'EXPLAIN', 'low'],
  ['SELECT pg_try_advisory_xact_lock_shared(7)', 'action', 'SELECT', 'medium'],
  ['SELECT txid_current()', 'action', 'SELECT', 'low'],
  ['SELECT pg_stat_reset()', 'action', 'SELECT', 'low'],
  ["SELECT set_config('work_mem', '1GB', false)", 'action', 'SELECT', 'low'],
  ['SELECT 1 OPERATOR(public.===) 2', 'action', 'SELECT', 'medium'],
  [
    "SELECT pg_size_pretty(pg_catalog.pg_database_size(current_database())), current_setting('work_mem')",
    'check',
    'SELECT',
  ],
  [
    'SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0',
    'check',
    'SELECT',
  ],
  ['WITH recent AS (SELECT * FROM jobs LIMIT 5) SELECT count(*) FROM recent', 'check', 'SELECT'],
  ["COPY jobs TO PROGRAM 'gzip > /tmp/jobs.gz'", 'action', 'COPY', 'high'],
  ['COPY (SELECT * FROM jobs) TO STDOUT', 'action', 'COPY', 'low'],
  ['DELETE FROM jobs', 'action', 'DELETE', 'high'],
  [
    'MERGE INTO jobs j USING staged s ON j.id = s.id WHEN MATCHED THEN UPDATE SET status = s.status',
    'action',
    'MERGE',
    'medium',
  ],
  ['DROP TABLE IF EXISTS staged', 'action', 'DROP TABLE', 'high'],
  ['DROP OWNED BY contractor', 'action', 'DROP OWNED', 'high'],
  ['ALTER TABLE jobs DISABLE TRIGGER audit, DROP COLUMN notes', 'action', 'ALTER TABLE DROP COLUMN', 'high'],
  ['ALTER TABLE jobs DROP CONSTRAINT jobs_customer_fk', 'action', 'ALTER TABLE DROP CONSTRAINT', 'high'],
  [
    'ALTER TABLE jobs NO FORCE ROW LEVEL SECURITY',
    'action',
    'ALTER TABLE NO FORCE ROW LEVEL SECURITY',
    'high',
  ],
  ['ALTER TABLE jobs ADD COLUMN notes text', 'action', 'ALTER TABLE', 'medium'],
  ['ALTER ROLE reporting BYPASSRLS', 'action', 'ALTER ROLE', 'high'],
  ['REVOKE ALL ON jobs FROM anon', 'action', 'REVOKE', 'high'],
  ["ALTER SYSTEM SET work_mem = '64MB'", 'action', 'ALTER SYSTEM', 'high'],
  ['SET SESSION AUTHORIZATION admin', 'action', 'SET SESSION AUTHORIZATION', 'high'],
  ['RESET ROLE', 'action', 'RESET ROLE', 'high'],
  ["SET statement_timeout = '5s'", 'action', 'SET', 'low'],
  ['REINDEX INDEX CONCURRENTLY idx_jobs', 'action', 'REINDEX CONCURRENTLY', 'medium'],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY job_stats', 'action', 'REFRESH MATERIALIZED VIEW', 'medium'],
  ['CLUSTER jobs USING idx_jobs', 'action', 'CLUSTER', 'high'],
  ['LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE', 'action', 'LOCK', 'medium'],
  ["COMMENT ON TABLE jobs IS 'work orders'", 'action', 'COMMENT', 'low'],
  ['CALL archive_jobs()', 'action', 'CALL', 'high'],
  ['LISTEN pgrst', 'action', 'LISTEN', 'low'],
  ['COMMIT', 'action', 'COMMIT', 'medium'],
  ['CHECKPOINT', 'action', 'CHECKPOINT', 'medium'],
  ['CREATE TABLE jobs_copy AS SELECT * FROM jobs', 'action', 'CREATE TABLE AS', 'medium'],
];

describe('statement classification', () => {
  beforeAll(() => loadSqlParser());

  it('covers every seed statement (at least 70)', () => {
    expect(SEED_CORPUS.length).toBeGreaterThanOrEqual(70);
  });

  it.each([...SEED_CORPUS, ...EDGE_CASES])('%s → %s %s %s', (sql, klass, kind, risk) => {
    const analysis = analyzeSqlBlock(sql);
    if (!analysis.ok) throw new Error(analysis.error);
    expect(analysis.statements).toHaveLength(1);
    const [statement] = analysis.statements;
    expect({ class: statement!.class, kind: statement!.statement.kind, risk: statement!.risk }).toEqual({
      class: klass,
      kind,
      risk,
    });
    if (klass === 'action') expect(statement!.actionReasons.length).toBeGreaterThan(0);
  });

  it('treats a function the author vouches for as read-only, and only that one', () => {
    const vouched = analyzeSqlBlock('SELECT * FROM check_system_health()', {
      readOnlyFunctions: ['check_system_health'],
    });
    const other = analyzeSqlBlock('SELECT * FROM check_system_health(), perform_routine_maintenance()', {
      readOnlyFunctions: ['check_system_health'],
    });
    expect(vouched.ok && vouched.statements[0]!.class).toBe('check');
    expect(other.ok && other.statements[0]!.actionReasons).toEqual([
      expect.stringContaining('calls perform_routine_maintenance, not known to be read-only'),
    ]);
  });

  it('never lets a readonly annotation vouch for a function known to have effects', () => {
    const analysis = analyzeSqlBlock('SELECT pg_terminate_backend(pid) FROM pg_stat_activity', {
      readOnlyFunctions: ['pg_terminate_backend'],
    });
    if (!analysis.ok) throw new Error(analysis.error);
    expect(analysis.statements[0]).toMatchObject({
      class: 'action',
      risk: 'high',
      actionReasons: [expect.stringContaining('a readonly annotation cannot vouch for it')],
    });
  });

  it('matches a vouched-for function with or without its schema', () => {
    const qualifiedCall = analyzeSqlBlock('SELECT * FROM public.check_system_health()', {
      readOnlyFunctions: ['check_system_health'],
    });
    const qualifiedAnnotation = analyzeSqlBlock('SELECT * FROM check_system_health()', {
      readOnlyFunctions: ['public.check_system_health'],
    });
    expect(qualifiedCall.ok && qualifiedCall.statements[0]!.class).toBe('check');
    expect(qualifiedAnnotation.ok && qualifiedAnnotation.statements[0]!.class).toBe('check');
  });

  it('names every function a statement calls, pg_catalog prefix dropped', () => {
    const analysis = analyzeSqlBlock(
      'SELECT pg_catalog.pg_cancel_backend(pid), lower(query) FROM pg_stat_activity WHERE pid IN (SELECT unnest(pg_blocking_pids(42)))',
    );
    expect(analysis.ok && analysis.statements[0]!.statement.functions.sort()).toEqual([
      'lower',
      'pg_blocking_pids',
      'pg_cancel_backend',
      'unnest',
    ]);
  });

  it('flags statements that cannot run inside a transaction', () => {
    const analysis = analyzeSqlBlock(
      [
        'VACUUM ANALYZE jobs',
        'CREATE INDEX CONCURRENTLY i ON jobs (id)',
        'ANALYZE jobs',
        'DROP INDEX CONCURRENTLY i',
        'REINDEX TABLE CONCURRENTLY jobs',
        'REINDEX DATABASE app',
        'REFRESH MATERIALIZED VIEW CONCURRENTLY job_stats',
        'ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY',
        "ALTER SYSTEM SET work_mem = '64MB'",
        'CREATE DATABASE scratch',
        'UPDATE jobs SET status = 1 WHERE id = 2',
      ].join(';\n'),
    );
    expect(analysis.ok && analysis.statements.map((statement) => statement.noTransaction)).toEqual([
      true,
      true,
      false,
      true,
      true,
      true,
      false,
      true,
      true,
      true,
      false,
    ]);
  });

  it('keeps a check free of action fields, and gives an action its reasons and risk', () => {
    const analysis = analyzeSqlBlock(
      "SELECT status, COUNT(*) as count \nFROM shopify_sync_queue \nGROUP BY status;\nSELECT admin_clear_shopify_sync_queue('failed');",
    );
    if (!analysis.ok) throw new Error(analysis.error);
    expect(analysis.statements[0]).toMatchObject({ class: 'check', actionReasons: [], riskReasons: [] });
    expect(analysis.statements[0]!.risk).toBeUndefined();
    expect(analysis.statements[1]).toMatchObject({
      class: 'action',
      risk: 'high',
      actionReasons: [
        'calls admin_clear_shopify_sync_queue, not known to be read-only (declare it with <!-- runbook: readonly=admin_clear_shopify_sync_queue --> if it is)',
      ],
      riskReasons: [
        'unknown function admin_clear_shopify_sync_queue, whose name says it removes data ("clear")',
      ],
    });
  });

  it('reports a block the parser rejects with its line, instead of throwing', () => {
    const analysis = analyzeSqlBlock('SELECT 1;\n// a TypeScript comment\nconst x = 1;');
    expect(analysis).toMatchObject({ ok: false, line: 1, error: expect.stringContaining('syntax error') });
  });

  it.each([
    ['a psql meta-command', '-- Describe the table\n\\d shopify_sync_queue', 1],
    ['shell', 'supabase functions deploy shopify-sync', 0],
    [
      'a bracket that is not a placeholder',
      '-- 🚨 after a non-ASCII comment\nSELECT 1;\nSELECT * FROM t WHERE id IN [1, 2]',
      2,
    ],
  ])('rejects %s with the line of the error', (_what, text, line) => {
    expect(analyzeSqlBlock(text)).toMatchObject({ ok: false, line, error: expect.any(String) });
  });

  it('returns no statements for an empty or comment-only block', () => {
    expect(analyzeSqlBlock('')).toEqual({ ok: true, statements: [] });
    expect(analyzeSqlBlock('-- nothing to run here\n/* or here */\n')).toEqual({ ok: true, statements: [] });
  });
});

describe('escape hatches READ ONLY does not close', () => {
  // The catalog gate (readSafety.ts) refuses these wherever a view or function reaches them,
  // even when declared STABLE; dblink, http and fdw are not on the embedded test servers.
  it.each([
    'pg_terminate_backend',
    'pg_cancel_backend',
    'pg_reload_conf',
    'set_config',
    'pg_notify',
    'pg_advisory_lock',
    'pg_try_advisory_xact_lock_shared',
    'dblink_exec',
    'dblink_send_query',
    'lo_unlink',
    'lo_put',
    'http_get',
    'http',
    'postgres_fdw_disconnect_all',
    'pg_background_launch',
    'pg_restore_relation_stats',
    'pg_clear_attribute_stats',
  ])('%s is a known effect, never read-safe', (name) => {
    expect(knownEffect(name)).toBeDefined();
    expect(READ_SAFE_FUNCTIONS.has(name)).toBe(false);
  });

  it('a name on the allowlist is not an effect', () => {
    for (const name of ['lower', 'pg_size_pretty', 'count', 'now', 'pg_stat_statements'])
      expect(knownEffect(name)).toBeUndefined();
  });
});
