/**
 * The application's login role: the sessions holding the demo's faults log in as it, as an
 * app's would, so the bot may signal them (it never signals a superuser's). Its password is
 * no secret: the role exists only on the demo's and the tests' throwaway servers.
 */
export const DEMO_APP_ROLE = { name: 'shop_app', password: 'shop-app' };

/**
 * A small schema in the style of the seed runbooks' apps: a job shop (jobs_db,
 * customers_db), a Shopify sync queue, and a warehouse (lots, reservation_lines), and the
 * app role that works on them. Roles are per server: made once, by whichever database first
 * (concurrently, one of two creators meets the other's row).
 */
export const DEMO_SCHEMA = `
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

CREATE TABLE customers_db (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  phone text,
  is_deleted boolean NOT NULL DEFAULT false
);

CREATE TABLE jobs_db (
  id bigserial PRIMARY KEY,
  job_number text NOT NULL UNIQUE,
  customer_id bigint REFERENCES customers_db (id),
  status text NOT NULL DEFAULT 'open',
  version integer NOT NULL DEFAULT 1,
  grand_total numeric(10, 2) NOT NULL DEFAULT 0,
  deleted_at timestamptz
);
CREATE INDEX jobs_db_customer_id_idx ON jobs_db (customer_id);

-- As seed 004 (Shopify sync) describes it, so its procedures run here as written.
CREATE TABLE shopify_sync_queue (
  id bigserial PRIMARY KEY,
  inventory_item_id bigint NOT NULL,
  action text NOT NULL DEFAULT 'update',
  status text NOT NULL DEFAULT 'queued',
  retry_count integer NOT NULL DEFAULT 0,
  max_retries integer NOT NULL DEFAULT 3,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE intake_items (
  id bigserial PRIMARY KEY,
  brand_title text NOT NULL,
  subject text NOT NULL,
  sku text NOT NULL UNIQUE
);

CREATE TABLE lots (
  id bigserial PRIMARY KEY,
  lot_number text NOT NULL UNIQUE,
  meters numeric(10, 2) NOT NULL,
  reserved_meters numeric(10, 2) NOT NULL DEFAULT 0
);

CREATE TABLE reservation_lines (
  id bigserial PRIMARY KEY,
  lot_id bigint NOT NULL REFERENCES lots (id),
  meters numeric(10, 2) NOT NULL,
  status text NOT NULL DEFAULT 'active'
);
CREATE INDEX reservation_lines_lot_id_idx ON reservation_lines (lot_id);

CREATE TABLE feature_flags (name text PRIMARY KEY, enabled boolean NOT NULL DEFAULT false);

INSERT INTO customers_db (name, phone)
  SELECT 'Customer ' || g, '04' || lpad((g % 500)::text, 8, '0') FROM generate_series(1, 1000) g;
INSERT INTO jobs_db (job_number, customer_id, grand_total)
  SELECT 'JB2025-' || lpad(g::text, 4, '0'), 1 + g % 1000, g * 10 FROM generate_series(1, 2000) g;
-- Every tenth item failed for good (retries used up); the rest waited half an hour: stuck.
INSERT INTO shopify_sync_queue (inventory_item_id, status, retry_count, last_error, created_at)
  SELECT g,
         CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'queued' END,
         CASE WHEN g % 10 = 0 THEN 3 ELSE 0 END,
         CASE WHEN g % 10 = 0 THEN 'Shopify API 429: rate limited' END,
         now() - interval '30 minutes'
  FROM generate_series(1, 500) g;
INSERT INTO intake_items (brand_title, subject, sku)
  SELECT 'Brand ' || (g % 40), 'Item ' || g, 'SKU-' || lpad(g::text, 5, '0') FROM generate_series(1, 500) g;
INSERT INTO lots (lot_number, meters) SELECT 'LOT-' || g, 100 FROM generate_series(1, 200) g;
INSERT INTO reservation_lines (lot_id, meters) SELECT 1 + g % 200, 1.5 FROM generate_series(1, 5000) g;
INSERT INTO feature_flags VALUES ('stabilization_mode', false);

DO $$ BEGIN
  CREATE ROLE ${DEMO_APP_ROLE.name} LOGIN PASSWORD '${DEMO_APP_ROLE.password}';
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${DEMO_APP_ROLE.name};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${DEMO_APP_ROLE.name};
ANALYZE;
`;
