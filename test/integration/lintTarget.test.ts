import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LintFinding } from '../../src/runbooks/lint/findings.js';
import { cli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');
const seed = (name: string) => fileURLToPath(new URL(`../fixtures/seeds/${name}`, import.meta.url));

/**
 * Each seed's tables, columns and functions as its SQL names them (ids as text, amounts as
 * numeric): what a team running that page would have. What is left out is what the page
 * gets wrong.
 */
const SHAPES: Record<string, string> = {
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
    CREATE TABLE help_requests (id text PRIMARY KEY, user_id text, title text, category text, status text,
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

/**
 * What lint finds on each seed: `[line, rule, a fragment of the message or suggestion]`. Every
 * finding is listed, so a new false alarm fails as surely as a missed one.
 */
const EXPECTED: Record<string, { code: number; findings: Array<[number, string, string]> }> = {
  '000_5aa7576ec96abee9.txt': {
    code: 2,
    findings: [
      [89, 'sql-in-other-fence', 'this typescript block looks like SQL (2 statements)'],
      [128, 'example-value', "'<job-number>'"],
      [133, 'example-value', "'0422408306' looks like one record's phone"],
      [134, 'example-value', "'JB2025-0061'"],
      [159, 'template-identifier', 'so this DROP TRIGGER IF EXISTS does nothing there'],
      [163, 'template-identifier', 'table table_name does not exist'],
      [165, 'template-identifier', 'function trigger_function does not exist'],
    ],
  },
  '001_fa7a400fb5f384a8.txt': {
    code: 2,
    findings: [
      [160, 'unknown-column', 'pg_stat_user_indexes calls it relname'],
      [346, 'renamed-column', 'use total_exec_time'],
      [347, 'renamed-column', 'use mean_exec_time'],
      [357, 'unknown-column', 'pg_stat_user_tables calls it relname'],
    ],
  },
  '002_4f3004b0bed5cbcb.txt': {
    code: 2,
    findings: [
      [93, 'example-value', "'user@example.com' looks like an email address"],
      [248, 'renamed-column', 'pg_stat_statements.mean_time was renamed mean_exec_time in PostgreSQL 13'],
      [248, 'renamed-column', 'use total_exec_time'],
    ],
  },
  '003_dab589b8c9148727.txt': {
    code: 2,
    findings: [
      [304, 'renamed-column', 'use mean_exec_time'],
      [304, 'renamed-column', 'use total_exec_time'],
      [357, 'renamed-column', 'use mean_exec_time'],
    ],
  },
  '004_95e26377be71e20e.txt': {
    code: 1,
    findings: [[279, 'example-value', "mark it as a parameter: '<store-key>'"]],
  },
};

interface LintedRunbook {
  findings: LintFinding[];
}

describe('runbook-bot lint --target on the five seeds, each against a database shaped like it', () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of databases) await db.drop();
  });

  for (const file of Object.keys(SHAPES))
    it(`lints ${file}: exactly the statements that would fail or mislead`, async () => {
      const db = await createTestDatabase(server!.url, { demoSchema: false });
      databases.push(db);
      await db.admin.query(SHAPES[file]!);
      const result = await cli(['lint', '--json', '--target', 'default', seed(file)], {
        TARGET_DATABASE_URL: db.url,
      });
      const [runbook] = JSON.parse(result.stdout) as LintedRunbook[];
      const found = runbook!.findings.map((finding) => [
        finding.line,
        finding.rule,
        `${finding.message} / ${finding.suggestion ?? ''}`,
      ]);
      const expected = EXPECTED[file]!;
      expect(found.map(([line, rule]) => `${line} ${rule}`).sort()).toEqual(
        expected.findings.map(([line, rule]) => `${line} ${rule}`).sort(),
      );
      for (const [line, rule, fragment] of expected.findings)
        expect(
          found.some(([l, r, text]) => l === line && r === rule && String(text).includes(fragment)),
          `${line} ${rule} ${fragment}`,
        ).toBe(true);
      for (const finding of runbook!.findings) expect(finding.procedure).toMatch(/#/);
      expect(result.code).toBe(expected.code);
      // PREPARE outlives a rollback: lint deallocates what it prepared.
      const { rows } = await db.admin.query(
        "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'runbook_bot_lint'",
      );
      expect(rows[0].n).toBe(0);
    });
});

const TEAM_RUNBOOK = `# Team

## Broken names

\`\`\`sql
SELECT id, stauts FROM jobs;
\`\`\`

\`\`\`sql
SELECT * FROM job;
\`\`\`

\`\`\`sql
SELECT j.id
FROM jobs j
JOIN customer c ON c.id = j.customer_id;
\`\`\`

\`\`\`sql
SELECT lenght(status) FROM jobs;
\`\`\`

\`\`\`sql
WITH recent AS (SELECT * FROM jobs) SELECT count(*) FROM recent;
\`\`\`

\`\`\`sql
EXPLAIN ANALYZE
SELECT nope FROM jobs;
\`\`\`

\`\`\`sql
VACUUM ANALYZE jobz;
\`\`\`

\`\`\`sql
DROP TRIGGER IF EXISTS jobs_audit ON jobs;
\`\`\`

\`\`\`sql
REINDEX INDEX jobs_status_idx;
\`\`\`

\`\`\`sql
DROP INDEX IF EXISTS jobs_old_idx;
SELECT extract(epoch FROM now()), trim(status) FROM jobs;
\`\`\`

## Own functions

\`\`\`sql
SELECT tripwire(1), j.missing FROM jobs j;
\`\`\`

\`\`\`sql
UPDATE jobs SET status = 'done' WHERE id = '[job-id]';
\`\`\`

\`\`\`sql
VACUUM (ANALYZE) <schema>.<table>;
DROP TRIGGER <trigger> ON jobs;
\`\`\`
`;

describe('runbook-bot lint --target resolves each statement without running it', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase(server!.url, { demoSchema: false });
    await db.admin.query(`
      CREATE TABLE customers (id text PRIMARY KEY, name text);
      CREATE TABLE jobs (id text PRIMARY KEY, status text, customer_id text);
      CREATE INDEX jobs_status_idx ON jobs (status);
      CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER jobs_audit_trg BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION audit();
      -- Lies about its volatility: planning a call on a constant would run it.
      CREATE FUNCTION tripwire(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
        $$ BEGIN RAISE EXCEPTION 'tripwire ran'; END $$;`);
    dir = mkdtempSync(join(tmpdir(), 'lint-target-'));
    writeFileSync(join(dir, 'team.md'), TEAM_RUNBOOK);
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('names unknown tables, columns, functions and triggers with the line and a near name', async () => {
    const file = join(dir, 'team.md');
    const result = await cli(['lint', '--target', 'default', file], { TARGET_DATABASE_URL: db.url });
    const lines = result.stdout.split('\n').filter((line) => /^ {2}(error|warning) /.test(line));
    expect(lines).toEqual([
      `  error ${file}:6 (team#broken-names): column "stauts" does not exist [unknown-column]`,
      `  error ${file}:10 (team#broken-names): table job does not exist on default [unknown-table]`,
      `  error ${file}:16 (team#broken-names): table customer does not exist on default [unknown-table]`,
      `  error ${file}:20 (team#broken-names): function lenght does not exist on default [unknown-function]`,
      `  error ${file}:29 (team#broken-names): column "nope" does not exist [unknown-column]`,
      `  error ${file}:33 (team#broken-names): table jobz does not exist on default [unknown-table]`,
      `  warning ${file}:37 (team#broken-names): trigger jobs_audit does not exist on table jobs of default, so this DROP TRIGGER IF EXISTS does nothing there [unknown-object]`,
      `  warning ${file}:45 (team#broken-names): index jobs_old_idx does not exist on default, so this DROP INDEX IF EXISTS does nothing there [unknown-table]`,
      `  error ${file}:52 (team#own-functions): column missing does not exist in jobs [unknown-column]`,
    ]);
    expect(result.stdout).toContain('Perhaps you meant to reference the column "jobs.status"');
    expect(result.stdout).toContain('did you mean customers?');
    expect(result.stdout).toMatch(/did you mean [\w, ]*\blength\b/);
    expect(result.stdout).toContain('did you mean jobs?');
    expect(result.stdout).toContain('did you mean jobs_audit_trg?');
    expect(result.stdout).not.toContain('tripwire ran');
    expect(result.code).toBe(2);
    const { rows } = await db.admin.query('SELECT count(*)::int AS n FROM pg_prepared_statements');
    expect(rows[0].n).toBe(0);
  });

  it('without --target, says nothing of the catalog', async () => {
    const result = await cli(['lint', join(dir, 'team.md')]);
    expect(result.stdout).not.toMatch(/\[unknown-/);
    expect(result.code).toBe(0);
  });

  it('names a target that is not configured', async () => {
    const result = await cli(['lint', '--target', 'nope', join(dir, 'team.md')], {
      TARGET_DATABASE_URL: db.url,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('nope');
  });
});
