import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import type { CheckDefinition } from '../../src/health/types.js';
import { startEmbeddedPostgres } from '../../src/store/embeddedPostgres.js';
import {
  createTestDatabase,
  openSession,
  type TestDatabase,
  testTarget,
  withDatabase,
} from '../support/databases.js';
import { finding, health } from '../support/health.js';
import { watchBotLocks } from '../support/lockWatcher.js';

const servers = inject('postgresServers');

describe.each(servers)('health check limits on $label', (server) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(server.url);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('skips what needs pg_read_all_stats for a role without pg_monitor, with how to fix it', async () => {
    const role = `rb_plain_${db.name}`;
    const password = 'plain-role-secret';
    await db.admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    try {
      const target = testTarget(withDatabase(server.url, db.name, { user: role, password }));
      const report = await health(target);
      expect(report.status).not.toBe('unreachable');
      for (const id of ['idle_in_transaction', 'long_running_queries', 'long_transactions', 'replica_lag']) {
        expect(finding(report, id)).toMatchObject({ status: 'skipped' });
        expect(finding(report, id).summary).toContain(`needs pg_read_all_stats`);
        expect(finding(report, id).summary).toContain(`GRANT pg_monitor TO ${role}`);
      }
      expect(report.findings.filter((f) => f.status === 'error')).toEqual([]);
      expect(JSON.stringify(report)).not.toContain(password);

      await db.admin.query(`GRANT pg_monitor TO ${role}`);
      const granted = await health(target, { only: ['idle_in_transaction'] });
      expect(finding(granted, 'idle_in_transaction').status).toBe('ok');
    } finally {
      await db.admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it('skips slow_queries with how to enable pg_stat_statements when it is not installed', async () => {
    await db.admin.query('DROP EXTENSION pg_stat_statements');
    try {
      const report = await health(testTarget(db.url), { only: ['slow_queries'] });
      expect(finding(report, 'slow_queries')).toMatchObject({ status: 'skipped' });
      expect(finding(report, 'slow_queries').summary).toContain('CREATE EXTENSION pg_stat_statements');
    } finally {
      await db.admin.query('CREATE EXTENSION pg_stat_statements');
    }
  });

  it('finds pg_stat_statements in whatever schema it is installed in (Supabase: extensions)', async () => {
    await db.admin.query('DROP EXTENSION pg_stat_statements; CREATE SCHEMA extensions');
    await db.admin.query('CREATE EXTENSION pg_stat_statements SCHEMA extensions');
    try {
      await db.admin.query('SELECT pg_sleep(1.05)');
      const report = await health(testTarget(db.url), { only: ['slow_queries'] });
      expect(finding(report, 'slow_queries').status).toBe('warn');
    } finally {
      await db.admin.query('DROP EXTENSION pg_stat_statements; DROP SCHEMA extensions');
      await db.admin.query('CREATE EXTENSION pg_stat_statements');
    }
  });

  it('reads 2,000 sequences without ever holding more than 100 locks', async () => {
    // A lock per sequence read, held to the end of the transaction, would take 2,000 slots of
    // the server's shared lock table (at 50,000 it runs out for every session).
    const many = await createTestDatabase(server.url);
    await many.admin.query(`DO $$ BEGIN
      FOR i IN 1..2000 LOOP EXECUTE format('CREATE SEQUENCE many_seq_%s', i); END LOOP;
      PERFORM setval('many_seq_1999', 9223372036854775000); END $$`);
    const watcher = watchBotLocks(many.url);
    let locks = { most: 0, samples: 0 };
    try {
      const report = await health(testTarget(many.url), { only: ['sequence_exhaustion'] });
      const sequences = finding(report, 'sequence_exhaustion');
      expect(sequences.status).toBe('critical');
      expect(sequences.evidence).toEqual([
        expect.objectContaining({ sequence: 'many_seq_1999', pct_used: 99.99 }),
      ]);
    } finally {
      locks = await watcher.stop();
      await many.drop();
    }
    expect(locks.samples).toBeGreaterThan(0);
    expect(locks.most).toBeLessThanOrEqual(100);
  });

  it('reports a check blocked by an ACCESS EXCLUSIVE lock as timed out while the others report', async () => {
    const locker = await openSession(db.url, 'migration');
    await locker.query('BEGIN; LOCK TABLE lots IN ACCESS EXCLUSIVE MODE');
    try {
      const report = await health(testTarget(db.url), { budgetMs: 10_000 });
      // Exact table sizes need a lock on the table; nothing else the checks read does.
      const blocked = finding(report, 'largest_tables');
      expect(blocked.status).toBe('error');
      expect(blocked.summary).toMatch(/^timed out waiting for a lock \(lock_timeout 1000 ms\)/);
      const others = report.findings.filter((f) => f.id !== 'largest_tables');
      expect(others.filter((f) => f.status === 'error')).toEqual([]);
      expect(finding(report, 'connections').status).toBe('ok');
      expect(report.status).toBe('warn');
      expect(report.durationMs).toBeLessThan(10_000);
    } finally {
      await locker.end();
    }
  });

  it('runs every check on one connection when the role may open only one', async () => {
    const role = `rb_one_${db.name}`;
    await db.admin.query(
      `CREATE ROLE ${role} LOGIN PASSWORD 'one-conn' CONNECTION LIMIT 1; GRANT pg_monitor TO ${role}`,
    );
    try {
      const report = await health(
        testTarget(withDatabase(server.url, db.name, { user: role, password: 'one-conn' })),
      );
      expect(report.findings).toHaveLength(HEALTH_CHECKS.length);
      expect(report.findings.filter((f) => f.status === 'error')).toEqual([]);
    } finally {
      await db.admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it('starts the checks slowest on big catalogs on the second connection, costliest first', async () => {
    const started: Array<{ id: string; pid: number }> = [];
    const recorder = (id: string): CheckDefinition => ({
      id,
      title: id,
      description: 'records where it ran',
      thresholds: [],
      remediation: null,
      async run(ctx) {
        const [row] = await ctx.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        started.push({ id, pid: row!.pid });
        return { status: 'ok', summary: 'ran' };
      },
    });
    // Report order, as in the catalog: the quick checks first, the slow ones after them.
    const ids = ['connections', 'blocking_chains', 'database_size', 'largest_tables', 'sequence_exhaustion'];
    const report = await health(testTarget(db.url), { checks: ids.map(recorder) });
    expect(report.findings.map((f) => f.id)).toEqual(ids);
    const pidOf = (id: string) => started.find((s) => s.id === id)!.pid;
    // The first connection takes `connections`; the second, as it opens, the costliest.
    expect(pidOf('sequence_exhaustion')).not.toBe(pidOf('connections'));
    expect(started.filter((s) => s.pid === pidOf('sequence_exhaustion'))[0]!.id).toBe('sequence_exhaustion');
    expect(started.map((s) => s.id).sort()).toEqual([...ids].sort());

    // Held to one connection, the checks run in report order.
    started.length = 0;
    const settings = { connectTimeoutMs: 5000, statementTimeoutMs: 5000, lockTimeoutMs: 1000, poolMax: 1 };
    await health(testTarget(db.url, { settings }), { checks: ids.map(recorder) });
    expect(started.map((s) => s.id)).toEqual(ids);

    // When the second connection cannot open, the first runs every check, in report order.
    const role = `rb_order_${db.name}`;
    await db.admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'order' CONNECTION LIMIT 1`);
    try {
      started.length = 0;
      const one = testTarget(withDatabase(server.url, db.name, { user: role, password: 'order' }));
      const limited = await health(one, { checks: ids.map(recorder) });
      expect(limited.findings.filter((f) => f?.status === 'ok').map((f) => f.id)).toEqual(ids);
      expect(started.map((s) => s.id)).toEqual(ids);
    } finally {
      await db.admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it('stops a check at statement_timeout and skips what the run budget cannot fit', async () => {
    const sleeper = (id: string): CheckDefinition => ({
      id,
      title: id,
      description: 'sleeps',
      thresholds: [],
      remediation: null,
      async run(ctx) {
        await ctx.db.query('SELECT pg_sleep(30)');
        return { status: 'ok', summary: 'never' };
      },
    });
    const checks = [sleeper('first'), sleeper('second'), sleeper('third'), sleeper('fourth')];
    const target = testTarget(db.url, {
      settings: { connectTimeoutMs: 5000, statementTimeoutMs: 700, lockTimeoutMs: 500, poolMax: 1 },
    });
    const report = await health(target, { checks, budgetMs: 1500 });
    expect(finding(report, 'first')).toMatchObject({
      status: 'error',
      summary: 'timed out after 700 ms (statement_timeout)',
    });
    expect(finding(report, 'second').status).toBe('error');
    // A check the budget left out could have found something: it must not read as all clear.
    expect(finding(report, 'fourth')).toMatchObject({ status: 'error' });
    expect(finding(report, 'fourth').summary).toMatch(/^not run: the run's 2 s budget was used up/);
    expect(report.status).toBe('warn');
    expect(report.durationMs).toBeLessThan(3000);
  });
});

describe('unreachable targets', () => {
  const [server] = servers;
  let silent: Server;
  let silentPort = 0;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // Accepts TCP connections and never answers: a firewall black hole or a hung server.
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    silentPort = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('gives one clear reason when nothing listens', async () => {
    const report = await health(testTarget('postgres://app:hunter2@127.0.0.1:1/app'));
    expect(report).toMatchObject({ status: 'unreachable', findings: [], serverVersion: null });
    expect(report.unreachable).toBe(
      'connection refused by 127.0.0.1:1 (is Postgres running and listening there?)',
    );
    expect(JSON.stringify(report)).not.toContain('hunter2');
  });

  it('gives up within the connect timeout when the server never answers', async () => {
    const settings = { connectTimeoutMs: 500, statementTimeoutMs: 5000, lockTimeoutMs: 1000, poolMax: 2 };
    const report = await health(testTarget(`postgres://app:pw@127.0.0.1:${silentPort}/app`, { settings }));
    expect(report.status).toBe('unreachable');
    expect(report.unreachable).toBe(`no answer from 127.0.0.1:${silentPort} within 1 s`);
    expect(report.durationMs).toBeLessThan(2000);
  });

  it('names a failed login without echoing the password', async () => {
    const url = withDatabase(server!.url, 'postgres', { user: 'postgres', password: 'wrong-password-xyz' });
    const report = await health(testTarget(url));
    expect(report.status).toBe('unreachable');
    expect(report.unreachable).toMatch(/^password authentication failed/);
    expect(JSON.stringify(report)).not.toContain('wrong-password-xyz');
  });

  it('names a database that does not exist', async () => {
    const report = await health(testTarget(withDatabase(server!.url, 'no_such_db')));
    expect(report.unreachable).toMatch(/database "no_such_db" does not exist on 127\.0\.0\.1:\d+/);
  });
});

describe('pg_stat_statements installed but not preloaded', () => {
  it('is skipped with how to enable it', async () => {
    const bare = await startEmbeddedPostgres({ settings: { shared_preload_libraries: '' } });
    try {
      const db = await createTestDatabase(bare.url(), { demoSchema: false });
      try {
        const report = await health(testTarget(db.url), { only: ['slow_queries'] });
        expect(finding(report, 'slow_queries').status).toBe('skipped');
        expect(finding(report, 'slow_queries').summary).toContain('installed but not loaded');
        expect(finding(report, 'slow_queries').summary).toContain('shared_preload_libraries');
      } finally {
        await db.drop();
      }
    } finally {
      await bare.stop();
    }
  });
});
