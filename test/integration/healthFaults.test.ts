import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { induceFaults } from '../../src/demo/faults.js';
import { DEMO_APP_ROLE } from '../../src/demo/schema.js';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import { createTestDatabase, openSession, type TestDatabase, testTarget } from '../support/databases.js';
import { BOT_APPLICATION_NAME, finding, findingEventually, health } from '../support/health.js';

/*
 * Each fault is induced for real in live sessions, then the engine must find it. Runs on
 * every server from the global setup (PostgreSQL 18 and 14). Tests in this file run one
 * after another because some faults (roles, replication slots, checkpoints) are
 * cluster-wide and would leak into the healthy-database test.
 */
const servers = inject('postgresServers');

describe.each(servers)('health checks on $label', (server) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(server.url);
  });
  afterAll(async () => {
    await db?.drop();
  });
  const target = () => testTarget(db.url);

  it('reports a healthy database as ok, with the server version', async () => {
    // A trigger on INSERT OR UPDATE appears twice in information_schema.triggers but is one trigger.
    await db.admin.query(`
      CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER customers_touch BEFORE INSERT OR UPDATE ON customers_db FOR EACH ROW EXECUTE FUNCTION touch();
      CREATE TRIGGER customers_audit AFTER UPDATE ON customers_db FOR EACH ROW EXECUTE FUNCTION touch();`);
    // Creating test databases forces checkpoints cluster-wide; that counter says nothing here.
    const report = await health(target(), { thresholds: { 'checkpoints.min_checkpoints': '1B' } });
    const problems = report.findings.filter((f) => !['ok', 'skipped'].includes(f.status));
    expect(problems).toEqual([]);
    expect(report.status).toBe('ok');
    expect(report.findings).toHaveLength(HEALTH_CHECKS.length);
    expect(report.serverVersion).toMatch(/^\d+/);
    expect(finding(report, 'duplicate_triggers').status).toBe('ok');
    await db.admin.query(
      'DROP TRIGGER customers_touch ON customers_db; DROP TRIGGER customers_audit ON customers_db',
    );
  });

  it('finds sessions idle in a transaction, never the bot’s own', async () => {
    const faults = await induceFaults(db.url, ['idle_in_transaction']);
    const ownSession = await openSession(db.url, BOT_APPLICATION_NAME);
    await ownSession.query('BEGIN; SELECT 1');
    try {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const report = await health(target(), { thresholds: { 'idle_in_transaction.warn': '1s' } });
      const idle = finding(report, 'idle_in_transaction');
      expect(idle.status).toBe('warn');
      expect(idle.evidence.map((row) => row.pid).sort()).toEqual([...faults.pids].sort());
      // An app's sessions, not a superuser's: the bot's terminate plans may signal them.
      const { rows: roles } = await db.admin.query(
        'SELECT a.usename, r.rolsuper FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid WHERE a.pid = ANY($1)',
        [faults.pids],
      );
      expect(roles).toEqual(faults.pids.map(() => ({ usename: DEMO_APP_ROLE.name, rolsuper: false })));
      expect(idle.remediation?.procedure).toMatch(/#/);
      for (const f of report.findings) {
        expect(f.evidence.some((row) => row.application_name === BOT_APPLICATION_NAME)).toBe(false);
      }
      const critical = await health(target(), {
        only: ['idle_in_transaction'],
        thresholds: { 'idle_in_transaction.warn': '1s', 'idle_in_transaction.critical': '1s' },
      });
      expect(finding(critical, 'idle_in_transaction').status).toBe('critical');
      expect(critical.status).toBe('critical');
    } finally {
      await ownSession.end();
      await faults.release();
    }
  });

  it('finds a lock chain and names the session at its head', async () => {
    const faults = await induceFaults(db.url, ['lock_chain']);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const report = await health(target(), {
        only: ['blocking_chains', 'ungranted_locks'],
        thresholds: { 'blocking_chains.warn': '1s', 'ungranted_locks.min_wait': '1s' },
      });
      const chains = finding(report, 'blocking_chains');
      const [holder, firstWaiter, secondWaiter] = faults.pids;
      expect(chains.status).toBe('warn');
      expect(chains.evidenceTotal).toBe(2);
      expect(chains.evidence.map((row) => row.root_blocker_pid)).toEqual([holder, holder]);
      expect(chains.evidence.map((row) => row.pid).sort()).toEqual([firstWaiter, secondWaiter].sort());
      expect(chains.summary).toContain(`root blocker pid ${holder} (idle in transaction)`);
      expect(finding(report, 'ungranted_locks').status).toBe('warn');
    } finally {
      await faults.release();
    }
  });

  it('names the holder of an ungranted lock even when no chain is old enough for blocking_chains', async () => {
    const faults = await induceFaults(db.url, ['lock_chain']);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const report = await health(target(), {
        only: ['blocking_chains', 'ungranted_locks'],
        thresholds: { 'ungranted_locks.min_wait': '1s' },
      });
      const [holder] = faults.pids;
      expect(finding(report, 'blocking_chains').status).toBe('ok');
      const ungranted = finding(report, 'ungranted_locks');
      expect(ungranted.evidence.length).toBeGreaterThan(0);
      for (const row of ungranted.evidence) expect(row.holder_pid).toBe(holder);
      expect(ungranted.summary).toMatch(
        new RegExp(`held by pid ${holder} \\(.*idle in transaction for .*holds `),
      );
    } finally {
      await faults.release();
    }
  });

  it('finds a long-running query, with secrets in its text redacted', async () => {
    const faults = await induceFaults(db.url, ['long_query']);
    const leaky = await openSession(db.url, 'etl');
    const running = leaky
      .query('SELECT pg_sleep(600) -- copied from postgres://etl:hunter2@warehouse/db')
      .catch(() => undefined);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const report = await health(target(), {
        only: ['long_running_queries'],
        thresholds: { 'long_running_queries.warn': '1s' },
      });
      const long = finding(report, 'long_running_queries');
      expect(long.status).toBe('warn');
      expect(long.evidence[0]).toMatchObject({ pid: faults.pids[0], application_name: 'reporting' });
      const etl = long.evidence.find((row) => row.application_name === 'etl');
      expect(etl?.query).toContain('postgres://etl:***@warehouse/db');
      expect(JSON.stringify(report)).not.toContain('hunter2');
    } finally {
      await db.admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'etl'",
      );
      await running;
      await leaky.end();
      await faults.release();
    }
  });

  it('finds dead tuples and a table autovacuum skips', async () => {
    const faults = await induceFaults(db.url, ['dead_tuples']);
    await faults.release();
    const dead = await findingEventually(target(), 'dead_tuples', (f) => f.status !== 'ok');
    expect(dead.status).toBe('critical');
    expect(dead.evidence[0]).toMatchObject({ table: 'reservation_lines' });
    const lag = await findingEventually(target(), 'autovacuum_lag', (f) => f.status !== 'ok');
    expect(lag.status).toBe('warn');
    expect(lag.evidence[0]).toMatchObject({ table: 'reservation_lines', autovacuum_disabled: true });
    await db.admin.query('ALTER TABLE reservation_lines RESET (autovacuum_enabled)');
    await db.admin.query('VACUUM reservation_lines');
  });

  it('finds duplicate triggers, an invalid index and a slow statement', async () => {
    const faults = await induceFaults(db.url, ['duplicate_trigger', 'invalid_index', 'slow_statement']);
    await faults.release();
    const report = await health(target(), {
      only: ['duplicate_triggers', 'invalid_indexes', 'slow_queries'],
    });
    const triggers = finding(report, 'duplicate_triggers');
    expect(triggers.status).toBe('warn');
    expect(triggers.evidence).toEqual([
      expect.objectContaining({
        table: 'jobs_db',
        first_trigger: 'jobs_version_bump',
        second_trigger: 'trg_jobs_db_version',
        timing: 'BEFORE',
        shared_events: 'UPDATE',
      }),
    ]);
    expect(finding(report, 'invalid_indexes').evidence).toEqual([
      expect.objectContaining({ index: 'customers_db_phone_key' }),
    ]);
    const slow = finding(report, 'slow_queries');
    expect(slow.status).toBe('warn');
    expect(String(slow.evidence[0]?.query)).toContain('pg_sleep');
    // The bot's own diagnostics are tagged and never listed.
    expect(slow.evidence.some((row) => String(row.query).includes('runbook-bot'))).toBe(false);
    await db.admin.query(
      'DROP TRIGGER trg_jobs_db_version ON jobs_db; DROP TRIGGER jobs_version_bump ON jobs_db; DROP INDEX customers_db_phone_key',
    );
  });

  it('finds duplicate triggers with an equal WHEN clause written at different offsets', async () => {
    // Up to PG 16 the stored WHEN tree carries each node's source offset: the same clause
    // written after a longer trigger name differs only there, and must still match.
    await db.admin.query(`
      CREATE FUNCTION when_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER w1 BEFORE UPDATE ON lots FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION when_noop();
      CREATE TRIGGER w_much_longer_name BEFORE UPDATE ON lots FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION when_noop();
      CREATE TRIGGER w_other_clause BEFORE UPDATE ON lots FOR EACH ROW WHEN (NEW.* IS NOT NULL) EXECUTE FUNCTION when_noop();`);
    try {
      const report = await health(target(), { only: ['duplicate_triggers'] });
      expect(finding(report, 'duplicate_triggers').evidence).toEqual([
        expect.objectContaining({ table: 'lots', first_trigger: 'w1', second_trigger: 'w_much_longer_name' }),
      ]);
    } finally {
      await db.admin.query('DROP FUNCTION when_noop() CASCADE');
    }
  });

  it('finds disabled triggers, critical when a foreign key is no longer enforced', async () => {
    await db.admin.query(`
      CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER lots_noop BEFORE UPDATE ON lots FOR EACH ROW EXECUTE FUNCTION noop();
      ALTER TABLE lots DISABLE TRIGGER lots_noop;`);
    try {
      const user = await health(target(), { only: ['disabled_triggers'] });
      expect(finding(user, 'disabled_triggers')).toMatchObject({ status: 'warn', evidenceTotal: 1 });
      await db.admin.query('ALTER TABLE reservation_lines DISABLE TRIGGER ALL');
      const all = await health(target(), { only: ['disabled_triggers'] });
      expect(finding(all, 'disabled_triggers').status).toBe('critical');
    } finally {
      await db.admin.query(
        'ALTER TABLE reservation_lines ENABLE TRIGGER ALL; DROP TRIGGER lots_noop ON lots',
      );
    }
  });

  it('finds sequences near the end of their column type', async () => {
    await db.admin.query(
      `CREATE TABLE tickets (id serial PRIMARY KEY); SELECT setval('tickets_id_seq', 2000000000)`,
    );
    const warn = await health(target(), { only: ['sequence_exhaustion'] });
    expect(finding(warn, 'sequence_exhaustion')).toMatchObject({ status: 'warn' });
    expect(finding(warn, 'sequence_exhaustion').evidence[0]).toMatchObject({
      sequence: 'tickets_id_seq',
      column_type: 'integer',
    });
    await db.admin.query(`SELECT setval('tickets_id_seq', 2100000000)`);
    const critical = await health(target(), { only: ['sequence_exhaustion'] });
    expect(finding(critical, 'sequence_exhaustion').status).toBe('critical');
    await db.admin.query('DROP TABLE tickets');
  });

  it('measures a sequence against the column it feeds: int2, and a bigint sequence on an int4 column', async () => {
    // Values read in batches come back only when past `warn` of the smallest integer range;
    // the column decides whether they are past `warn` of theirs.
    await db.admin.query(`
      CREATE TABLE badges (id smallserial PRIMARY KEY);
      SELECT setval('badges_id_seq', 30000);
      CREATE SEQUENCE wide_seq;
      CREATE TABLE narrow (id int DEFAULT nextval('wide_seq') PRIMARY KEY);
      ALTER SEQUENCE wide_seq OWNED BY narrow.id;
      SELECT setval('wide_seq', 2000000000);
      CREATE SEQUENCE free_seq;
      SELECT setval('free_seq', 2000000000);
      CREATE SEQUENCE whole_range_seq MINVALUE -9223372036854775808;
      SELECT nextval('whole_range_seq');`);
    try {
      const report = await health(target(), { only: ['sequence_exhaustion'] });
      const sequences = finding(report, 'sequence_exhaustion');
      expect(sequences.status).toBe('warn');
      expect(sequences.evidence).toEqual([
        expect.objectContaining({
          sequence: 'wide_seq',
          column_type: 'integer',
          usable_max: 2147483647,
          pct_used: 93.13,
        }),
        expect.objectContaining({
          sequence: 'badges_id_seq',
          column_type: 'smallint',
          usable_max: 32767,
          pct_used: 91.55,
        }),
      ]);
      expect(sequences.summary).toMatch(/^2 sequences past 85% of its range; public\.wide_seq is at 93\.13%/);
    } finally {
      await db.admin.query('DROP TABLE badges, narrow; DROP SEQUENCE free_seq, whole_range_seq');
    }
    const quiet = await health(target(), { only: ['sequence_exhaustion'] });
    expect(finding(quiet, 'sequence_exhaustion').summary).toMatch(
      /^no sequence past 85% of its range \(\d+ sequences? read\)$/,
    );
  });

  it('finds duplicate, unused and missing indexes', async () => {
    await db.admin.query(`
      CREATE INDEX lots_lot_number_idx ON lots (lot_number);
      CREATE TABLE notes (id bigserial PRIMARY KEY, job_id bigint REFERENCES jobs_db (id));`);
    try {
      const report = await health(target(), {
        only: ['duplicate_indexes', 'unused_indexes', 'unindexed_foreign_keys'],
        thresholds: { 'unused_indexes.min_bytes': '0' },
      });
      expect(finding(report, 'duplicate_indexes').evidence).toEqual([
        expect.objectContaining({
          redundant_index: 'lots_lot_number_idx',
          covering_index: 'lots_lot_number_key',
        }),
      ]);
      expect(finding(report, 'unused_indexes').status).toBe('warn');
      expect(finding(report, 'unindexed_foreign_keys').evidence).toEqual([
        expect.objectContaining({ table: 'notes', columns: 'job_id' }),
      ]);
    } finally {
      await db.admin.query('DROP INDEX lots_lot_number_idx; DROP TABLE notes');
    }
  });

  it('leaves out of duplicate_indexes an index behind a constraint or a foreign key, however old', async () => {
    // Between two equal unique indexes the newer is the one to drop, unless a constraint owns
    // it or a foreign key uses it. REINDEX CONCURRENTLY gives the key's index the newest OID.
    await db.admin.query(`
      CREATE TABLE dup_parent (id int PRIMARY KEY, code int, ref int);
      CREATE UNIQUE INDEX dup_parent_code_first ON dup_parent (code);
      ALTER TABLE dup_parent ADD CONSTRAINT dup_parent_code_key UNIQUE (code);
      CREATE INDEX dup_parent_code_plain ON dup_parent (code);
      CREATE UNIQUE INDEX dup_parent_ref_first ON dup_parent (ref);
      CREATE TABLE dup_child (ref int REFERENCES dup_parent (ref));
      CREATE UNIQUE INDEX dup_parent_ref_second ON dup_parent (ref);`);
    await db.admin.query('REINDEX INDEX CONCURRENTLY dup_parent_ref_first');
    try {
      const report = await health(target(), { only: ['duplicate_indexes'] });
      const onParent = finding(report, 'duplicate_indexes').evidence.filter(
        (row) => row.table === 'dup_parent',
      );
      expect(onParent).toEqual([
        expect.objectContaining({
          redundant_index: 'dup_parent_code_plain',
          covering_index: 'dup_parent_code_first',
        }),
      ]);
    } finally {
      await db.admin.query('DROP TABLE dup_child, dup_parent');
    }
  });

  it('finds a large table read by sequential scans, only above min_rows', async () => {
    // One session writes and reads, then ends: that flushes its statistics on every version
    // (PG 14 sends them at the end of a transaction at most twice a second, otherwise later).
    const session = await openSession(db.url, 'scanner');
    try {
      await session.query(`
        CREATE TABLE scanned_lines (id int PRIMARY KEY, sku int);
        INSERT INTO scanned_lines SELECT g, g % 97 FROM generate_series(1, 12000) g;`);
      // No index on sku: each of these reads the whole table.
      for (let i = 0; i < 3; i++)
        await session.query('SELECT count(*) FROM scanned_lines WHERE sku = $1', [i]);
    } finally {
      await session.end();
    }
    try {
      const missing = await findingEventually(target(), 'missing_indexes', (f) =>
        f.evidence.some((row) => row.table === 'scanned_lines' && Number(row.seq_scans) >= 3),
      );
      expect(missing.status).toBe('warn');
      expect(missing.evidence.find((row) => row.table === 'scanned_lines')).toMatchObject({
        schema: 'public',
        live_rows: 12_000,
        index_scans: 0,
        index_use_pct: 0,
      });
      const report = await health(target(), {
        only: ['missing_indexes'],
        thresholds: { 'missing_indexes.min_rows': '12001' },
      });
      expect(finding(report, 'missing_indexes').evidence).not.toContainEqual(
        expect.objectContaining({ table: 'scanned_lines' }),
      );
    } finally {
      await db.admin.query('DROP TABLE scanned_lines');
    }
  });

  it('finds prepared transactions and inactive replication slots', async () => {
    const slot = `rb_${db.name}`;
    const preparer = await openSession(db.url, 'two-phase-app');
    await preparer.query(
      `BEGIN; UPDATE lots SET meters = meters WHERE id = 2; PREPARE TRANSACTION '${db.name}'`,
    );
    await db.admin.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const report = await health(target(), {
        only: ['prepared_transactions', 'inactive_replication_slots'],
      });
      expect(finding(report, 'prepared_transactions')).toMatchObject({ status: 'warn' });
      expect(finding(report, 'prepared_transactions').evidence[0]).toMatchObject({ gid: db.name });
      const slots = finding(report, 'inactive_replication_slots');
      expect(slots.status).toBe('warn');
      expect(slots.evidence.map((row) => row.slot_name)).toContain(slot);
    } finally {
      await db.admin.query(`ROLLBACK PREPARED '${db.name}'`);
      await db.admin.query('SELECT pg_drop_replication_slot($1)', [slot]);
      await preparer.end();
    }
  });

  it('counts connections against absolute and relative limits, without its own', async () => {
    const sessions = await Promise.all([1, 2, 3].map(() => openSession(db.url, 'web')));
    const own = await Promise.all([1, 2].map(() => openSession(db.url, BOT_APPLICATION_NAME)));
    try {
      const report = await health(target(), {
        only: ['connections'],
        thresholds: { 'connections.warn': '3' },
      });
      const connections = finding(report, 'connections');
      expect(connections.status).toBe('warn');
      const web = connections.evidence.filter((row) => row.application_name === 'web');
      expect(web.reduce((sum, row) => sum + Number(row.sessions), 0)).toBe(3);
      expect(connections.evidence.some((row) => row.application_name === BOT_APPLICATION_NAME)).toBe(false);
      const pct = await health(target(), {
        only: ['connections'],
        thresholds: { 'connections.critical_pct': '1' },
      });
      expect(finding(pct, 'connections').status).toBe('critical');
    } finally {
      await Promise.all([...sessions, ...own].map((client) => client.end()));
    }
  });

  it('reads requested checkpoints from the view of its server version, and does not blame max_wal_size for manual ones', async () => {
    for (let i = 0; i < 12; i++) await db.admin.query('CHECKPOINT');
    // Test servers' statistics are young: judge them anyway, so the share is what decides.
    const judgeNow = { 'checkpoints.min_stats_age': '0' };
    const report = await health(target(), { only: ['checkpoints'], thresholds: judgeNow });
    const found = finding(report, 'checkpoints');
    expect(found.summary).toMatch(/^server-wide/);
    expect(found.evidence[0]).toMatchObject({ max_wal_size: expect.any(String) });
    if (Number(report.serverVersion?.split('.')[0]) >= 14) {
      // Twelve CHECKPOINTs write next to no WAL: pg_stat_wal shows they were not WAL pressure.
      expect(found.status).toBe('ok');
      expect(found.summary).toContain('CREATE/DROP DATABASE, a manual CHECKPOINT or base backups');
    } else {
      expect(found.status).toBe('warn');
    }
    // With the default sample requirement a young server is not judged at all.
    const young = await health(target(), { only: ['checkpoints'] });
    expect(finding(young, 'checkpoints').status).toBe('ok');
  });

  it('checks API grants only where PostgREST roles exist', async () => {
    expect(finding(await health(target(), { only: ['postgrest_grants'] }), 'postgrest_grants').status).toBe(
      'skipped',
    );
    const created: string[] = [];
    for (const role of ['anon', 'authenticated']) {
      const { rowCount } = await db.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (rowCount === 0) {
        await db.admin.query(`CREATE ROLE ${role} NOLOGIN`);
        created.push(role);
      }
    }
    try {
      await db.admin.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO anon, authenticated');
      await db.admin.query('CREATE TABLE new_table (id int)');
      const report = await health(target(), { only: ['postgrest_grants'] });
      expect(finding(report, 'postgrest_grants')).toMatchObject({
        status: 'warn',
        evidence: [{ schema: 'public', table: 'new_table' }],
        evidenceTotal: 1,
      });
    } finally {
      await db.admin.query(
        'DROP TABLE new_table; REVOKE ALL ON ALL TABLES IN SCHEMA public FROM anon, authenticated',
      );
      for (const role of created) await db.admin.query(`DROP ROLE ${role}`);
    }
  });

  it('finds tables the API roles reach without row-level security, anon-readable ones first and critical', async () => {
    expect(finding(await health(target(), { only: ['rls_disabled'] }), 'rls_disabled').status).toBe(
      'skipped',
    );
    const created: string[] = [];
    for (const role of ['anon', 'authenticated']) {
      const { rowCount } = await db.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (rowCount === 0) {
        await db.admin.query(`CREATE ROLE ${role} NOLOGIN`);
        created.push(role);
      }
    }
    try {
      await db.admin.query(`
        CREATE TABLE members_only (id int); GRANT SELECT ON members_only TO authenticated;
        CREATE TABLE members_too (id int); GRANT SELECT ON members_too TO authenticated;
        CREATE TABLE open_to_all (id int); GRANT SELECT ON open_to_all TO anon;
        CREATE TABLE guarded (id int); GRANT SELECT ON guarded TO anon;
        ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
        CREATE TABLE internal (id int);`);
      const members = await health(target(), { only: ['rls_disabled'] });
      // Tables with the same grants share one privilege verdict; each is still listed and counted.
      expect(finding(members, 'rls_disabled')).toMatchObject({
        status: 'critical',
        evidence: [
          { table: 'open_to_all', open_to: 'anon' },
          { table: 'members_only', open_to: 'authenticated' },
          { table: 'members_too', open_to: 'authenticated' },
        ],
        evidenceTotal: 3,
      });
      await db.admin.query('ALTER TABLE open_to_all ENABLE ROW LEVEL SECURITY');
      expect(finding(await health(target(), { only: ['rls_disabled'] }), 'rls_disabled')).toMatchObject({
        status: 'warn',
        evidence: [
          { table: 'members_only', open_to: 'authenticated' },
          { table: 'members_too', open_to: 'authenticated' },
        ],
        evidenceTotal: 2,
      });
    } finally {
      await db.admin.query(`
        DROP TABLE members_only, members_too, open_to_all, guarded, internal;
        REVOKE ALL ON ALL TABLES IN SCHEMA public FROM anon, authenticated`);
      for (const role of created) await db.admin.query(`DROP ROLE ${role}`);
    }
  });

  it('applies size and age thresholds from overrides', async () => {
    const report = await health(target(), {
      only: ['database_size', 'xid_wraparound'],
      thresholds: { 'database_size.warn': '1MB', 'xid_wraparound.warn': '1' },
    });
    expect(finding(report, 'database_size')).toMatchObject({
      status: 'warn',
      threshold: { warn: 1024 ** 2 },
    });
    expect(finding(report, 'xid_wraparound').status).toBe('warn');
  });
});
