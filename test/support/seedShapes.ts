/**
 * Each seed's tables, columns and functions as its SQL names them (ids as text, amounts as
 * numeric): what a team running that page would have. What is left out is what the page
 * gets wrong.
 */
export const SEED_SHAPES: Record<string, string> = {
  '000_5aa7576ec96abee9.txt': `
    CREATE TABLE customers_db (id text PRIMARY KEY, name text, phone text, is_deleted boolean DEFAULT false);
    CREATE TABLE jobs_db (id text PRIMARY KEY, job_number text, status text, version int, customer_id text,
      deleted_at timestamptz, grand_total numeric, balance_due numeric, service_deposit numeric);
    CREATE TABLE feature_flags (name text PRIMARY KEY, enabled boolean);
    CREATE TABLE schema_migrations (version text, created_at timestamptz);
    CREATE TABLE audit_log (id bigserial, changed_at timestamptz, table_name text, operation text, record_id text,
      changed_by text, changed_fields text[]);`,
  '001_fa7a400fb5f384a8.txt': `
    CREATE SCHEMA auth;
    CREATE TABLE auth.users (id text PRIMARY KEY, email text, created_at timestamptz, raw_user_meta_data jsonb);
    CREATE TABLE profiles (id text PRIMARY KEY, name text, location text, created_at timestamptz);
    CREATE TABLE help_requests (id text PRIMARY KEY DEFAULT gen_random_uuid()::text, user_id text, title text, category text, status text,
      urgency text, created_at timestamptz);
    CREATE TABLE contact_exchanges (id text PRIMARY KEY, request_id text, helper_id text, requester_id text,
      exchanged_at timestamptz, confirmed_at timestamptz);
    CREATE TABLE conversations (id text PRIMARY KEY, last_message_at timestamptz, updated_at timestamptz);
    CREATE TABLE conversation_participants (conversation_id text, user_id text, left_at timestamptz);
    CREATE TABLE messages (id text PRIMARY KEY, conversation_id text, sender_id text, status text,
      created_at timestamptz, read_at timestamptz);
    CREATE INDEX idx_help_requests_status_urgency_created ON help_requests (status, urgency, created_at);
    CREATE INDEX idx_messages_conversation_created ON messages (conversation_id, created_at);
    CREATE FUNCTION verify_user_registration_system() RETURNS TABLE (check_name text, ok boolean)
      LANGUAGE sql STABLE AS $$ SELECT 'x', true $$;
    CREATE FUNCTION verify_rls_security() RETURNS TABLE (table_name text, ok boolean)
      LANGUAGE sql STABLE AS $$ SELECT 'x', true $$;
    CREATE FUNCTION get_contact_info_with_consent(request text, viewer text) RETURNS TABLE (email text)
      LANGUAGE sql STABLE AS $$ SELECT 'x' $$;`,
  '002_4f3004b0bed5cbcb.txt': `
    CREATE TABLE auth_logs (id text, timestamp timestamptz, event_message text, metadata jsonb);
    CREATE TABLE login_attempts (email text, attempted_at timestamptz);
    CREATE TABLE email_log (id text PRIMARY KEY, recipient text, subject text, status text, error_message text,
      created_at timestamptz, retry_count int, next_retry_at timestamptz);
    CREATE TABLE count_rolls (id text, status text, ocr_status text);
    CREATE TABLE rolls (id text, status text);
    CREATE TABLE lots (id text PRIMARY KEY, quality text, color text, meters numeric, reserved_meters numeric, status text);
    CREATE TABLE reservations (id text PRIMARY KEY, status text);
    CREATE TABLE reservation_lines (reservation_id text, lot_id text, reserved_meters numeric);
    CREATE TABLE orders (id text, status text, created_at timestamptz);
    CREATE TABLE audit_logs (created_at timestamptz, action text, entity_type text);
    CREATE TABLE api_keys (id text PRIMARY KEY, rate_limit_per_minute int, is_active boolean);
    CREATE TABLE api_request_logs (api_key_id text, created_at timestamptz);`,
  '003_dab589b8c9148727.txt': `
    CREATE TABLE orders (id text PRIMARY KEY, order_number text, status text, payment_status text, notes text,
      total_amount numeric, customer_name text, customer_email text, shipping_city text, shipping_state text,
      created_at timestamptz, shipped_at timestamptz, delivered_at timestamptz);
    CREATE TABLE order_items (order_id text, used_inventory_items text[]);
    CREATE TABLE inventory (id text PRIMARY KEY, title text, store_name text, status text, is_active boolean,
      quantity int, reserved_quantity int, available_quantity int);
    CREATE TABLE designs (user_id text, created_at timestamptz);
    CREATE FUNCTION perform_routine_maintenance() RETURNS text LANGUAGE sql AS $$ SELECT 'done' $$;
    CREATE FUNCTION get_storage_usage_stats() RETURNS TABLE (bucket text, bytes bigint) LANGUAGE sql STABLE AS $$ SELECT 'x', 1::bigint $$;
    CREATE FUNCTION cleanup_orphaned_images() RETURNS int LANGUAGE sql AS $$ SELECT 0 $$;
    CREATE FUNCTION check_system_health() RETURNS TABLE (metric text, status text) LANGUAGE sql STABLE AS $$ SELECT 'x', 'ok' $$;
    CREATE FUNCTION analyze_index_usage() RETURNS TABLE (index_name text) LANGUAGE sql STABLE AS $$ SELECT 'x' $$;
    CREATE FUNCTION find_unused_indexes() RETURNS TABLE (index_name text) LANGUAGE sql STABLE AS $$ SELECT 'x' $$;
    CREATE FUNCTION validate_backup_integrity() RETURNS TABLE (ok boolean) LANGUAGE sql STABLE AS $$ SELECT true $$;
    CREATE FUNCTION create_backup_metadata() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
    CREATE FUNCTION validate_recovery() RETURNS TABLE (ok boolean) LANGUAGE sql STABLE AS $$ SELECT true $$;
    CREATE FUNCTION prepare_disaster_recovery() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;`,
  '004_95e26377be71e20e.txt': `
    CREATE SCHEMA auth;
    CREATE TABLE auth.users (id text PRIMARY KEY, email text, created_at timestamptz, confirmed_at timestamptz);
    CREATE TABLE system_logs (id bigserial, level text, message text, context jsonb, created_at timestamptz);
    CREATE TABLE shopify_sync_queue (id bigserial, inventory_item_id text, action text, status text,
      retry_count int, max_retries int, last_error text, created_at timestamptz);
    CREATE TABLE intake_lots (id text PRIMARY KEY, lot_number text, status text, total_items int, total_value numeric,
      created_by text, created_at timestamptz, completed_at timestamptz);
    CREATE TABLE intake_items (id text PRIMARY KEY, lot_id text, sku text, brand_title text, subject text,
      quantity int, price numeric, created_at timestamptz, removed_from_batch_at timestamptz, deleted_at timestamptz);
    CREATE TYPE app_role AS ENUM ('admin', 'staff', 'viewer');
    CREATE TABLE user_roles (id bigserial, user_id text, role app_role, UNIQUE (user_id, role));
    CREATE TABLE user_shopify_assignments (id bigserial, user_id text, store_key text, shopify_location_gid text,
      region_id text);
    CREATE FUNCTION admin_clear_shopify_sync_queue(wanted text) RETURNS int LANGUAGE sql AS $$ SELECT 0 $$;
    CREATE FUNCTION admin_delete_batch(lot text) RETURNS int LANGUAGE sql AS $$ SELECT 0 $$;`,
};

/** Each seed as the bot ships it: the built-in runbook in src/runbooks/library/ with the same bytes. */
export const SEED_LIBRARY_FILES: Record<string, string> = {
  '000_5aa7576ec96abee9.txt': 'hampton-mowerpower-system.md',
  '001_fa7a400fb5f384a8.txt': 'care-collective-database-troubleshooting.md',
  '002_4f3004b0bed5cbcb.txt': 'lotastro-wms-incidents.md',
  '003_dab589b8c9148727.txt': 'timothie-database-operations.md',
  '004_95e26377be71e20e.txt': 'production-operations.md',
};

/**
 * The fault each seed's headline procedures are about, on top of its shape: what the page's
 * checks should show and its actions should fix. Sessions (idle, idle in transaction) are
 * opened by the tests themselves.
 */
export const SEED_FAULTS: Record<string, string> = {
  // Two triggers running the same function on the same event: every update bumps the version twice.
  '000_5aa7576ec96abee9.txt': `
    -- Differently named, as a migration run twice under a new name leaves them: the page's
    -- "Find duplicates" groups by name and never sees them.
    CREATE FUNCTION bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.version := NEW.version + 1; RETURN NEW; END $$;
    CREATE TRIGGER jobs_bump_version BEFORE UPDATE ON jobs_db FOR EACH ROW EXECUTE FUNCTION bump_version();
    CREATE TRIGGER jobs_bump_version_v2 BEFORE UPDATE ON jobs_db FOR EACH ROW EXECUTE FUNCTION bump_version();
    INSERT INTO customers_db VALUES ('c1', 'Pat Mower', '0400000001', false);
    INSERT INTO jobs_db (id, job_number, status, version, customer_id, grand_total, balance_due, service_deposit)
      VALUES ('j1', 'JB-1', 'open', 1, 'c1', 100, 100, 0);`,
  // Two sign-ups without a profile (the trigger did not run), and a request its owner cannot see.
  '001_fa7a400fb5f384a8.txt': `
    CREATE OR REPLACE FUNCTION verify_user_registration_system() RETURNS TABLE (check_name text, ok boolean)
      LANGUAGE sql STABLE AS $$
        SELECT 'every user has a profile', NOT EXISTS (
          SELECT 1 FROM auth.users u LEFT JOIN profiles p ON p.id = u.id WHERE p.id IS NULL) $$;
    INSERT INTO auth.users VALUES
      ('0f1e2d3c-4b5a-4697-8877-665544332211', 'alice@care.test', now() - interval '2 days', '{"name": "Alice"}'),
      ('8d2f7c1e-0a4b-4c3d-9e8f-112233445566', 'bob@care.test', now() - interval '1 day', '{}'),
      ('5b6c7d8e-9f01-4234-8567-89abcdef0123', 'carol@care.test', now() - interval '3 days', '{"name": "Carol"}');
    INSERT INTO profiles VALUES ('5b6c7d8e-9f01-4234-8567-89abcdef0123', 'Carol', 'Springfield', now() - interval '3 days');
    INSERT INTO help_requests VALUES
      ('r1', '5b6c7d8e-9f01-4234-8567-89abcdef0123', 'groceries', 'food', 'in_progress', 'high', now()),
      ('r2', '5b6c7d8e-9f01-4234-8567-89abcdef0123', 'a lift', 'transport', 'open', 'low', now());
    ALTER TABLE help_requests ENABLE ROW LEVEL SECURITY;`,
  // Failed emails, and lots whose reserved meters disagree with their active reservations.
  '002_4f3004b0bed5cbcb.txt': `
    INSERT INTO email_log VALUES
      ('e1', 'buyer@lotastro.test', 'Order confirmed', 'failed', 'domain not verified', now() - interval '1 hour', 3, NULL),
      ('e2', 'ops@lotastro.test', 'Stock alert', 'failed', 'rate limited', now() - interval '2 hours', 3, NULL),
      ('e3', 'buyer@lotastro.test', 'Invoice', 'sent', NULL, now() - interval '3 hours', 0, NULL);
    INSERT INTO lots VALUES
      ('L1', 'linen', 'blue', 100, 50, 'in_stock'),
      ('L2', 'cotton', 'red', 80, -10, 'in_stock'),
      ('L3', 'wool', 'grey', 60, 20, 'in_stock');
    INSERT INTO reservations VALUES ('R1', 'active'), ('R2', 'active');
    INSERT INTO reservation_lines VALUES ('R1', 'L1', 30), ('R2', 'L3', 20);`,
  // Oversold stock (available below zero), a health function that reports it, and old orders.
  '003_dab589b8c9148727.txt': `
    ALTER TABLE inventory DROP COLUMN available_quantity,
      ADD COLUMN available_quantity int GENERATED ALWAYS AS (quantity - reserved_quantity) STORED;
    INSERT INTO inventory (id, title, store_name, status, is_active, quantity, reserved_quantity) VALUES
      ('i1', 'Gold ring', 'main', 'in_stock', true, 2, 5),
      ('i2', 'Silver chain', 'main', 'in_stock', true, 1, 3),
      ('i3', 'Pearl earrings', 'main', 'low_stock', true, 3, 1);
    CREATE OR REPLACE FUNCTION check_system_health() RETURNS TABLE (metric text, status text) LANGUAGE sql STABLE AS $$
      SELECT 'oversold inventory', CASE WHEN count(*) > 0 THEN 'critical: ' || count(*) ELSE 'ok' END
        FROM inventory WHERE available_quantity < 0 $$;
    INSERT INTO orders (id, order_number, status, created_at, delivered_at) VALUES
      ('o1', 'TC-1', 'delivered', now() - interval '3 years', now() - interval '3 years'),
      ('o2', 'TC-2', 'delivered', now() - interval '1 month', now() - interval '1 month'),
      ('o3', 'TC-3', 'pending', now() - interval '1 hour', NULL);`,
  // A stuck sync queue: queued items nobody processed, failed items out of retries, one still retrying.
  '004_95e26377be71e20e.txt': `
    CREATE OR REPLACE FUNCTION admin_clear_shopify_sync_queue(wanted text) RETURNS int LANGUAGE plpgsql AS $$
      DECLARE cleared int;
      BEGIN
        DELETE FROM shopify_sync_queue WHERE status = wanted;
        GET DIAGNOSTICS cleared = ROW_COUNT;
        RETURN cleared;
      END $$;
    INSERT INTO shopify_sync_queue (inventory_item_id, action, status, retry_count, max_retries, last_error, created_at) VALUES
      ('item-1', 'update', 'queued', 0, 3, NULL, now() - interval '2 hours'),
      ('item-2', 'update', 'queued', 0, 3, NULL, now() - interval '1 hour'),
      ('item-3', 'create', 'queued', 0, 3, NULL, now() - interval '30 minutes'),
      ('item-4', 'update', 'failed', 3, 3, 'Shopify 429 Too Many Requests', now() - interval '3 hours'),
      ('item-5', 'delete', 'failed', 5, 3, 'Shopify 404 Not Found', now() - interval '4 hours'),
      ('item-6', 'update', 'failed', 1, 3, 'timeout', now() - interval '5 minutes'),
      ('item-7', 'update', 'completed', 0, 3, NULL, now() - interval '1 day');`,
};

/**
 * Seed 000's duplicate triggers on a bare jobs_db, for tests on a database other tests use
 * too (without the seed's whole shape); DUPLICATE_TRIGGERS_DROP removes them.
 */
export const DUPLICATE_TRIGGERS = `
  CREATE TABLE jobs_db (id text PRIMARY KEY, version int NOT NULL DEFAULT 1);
  CREATE FUNCTION bump_version() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.version := NEW.version + 1; RETURN NEW; END $$;
  CREATE TRIGGER jobs_bump_version BEFORE UPDATE ON jobs_db FOR EACH ROW EXECUTE FUNCTION bump_version();
  CREATE TRIGGER jobs_bump_version_v2 BEFORE UPDATE ON jobs_db FOR EACH ROW EXECUTE FUNCTION bump_version();`;
export const DUPLICATE_TRIGGERS_DROP = 'DROP TABLE jobs_db; DROP FUNCTION bump_version()';
