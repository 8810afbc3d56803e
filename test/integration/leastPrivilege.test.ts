import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from '../support/cli.js';
import { createTestDatabase, openSession, type TestDatabase, withDatabase } from '../support/databases.js';

/*
 * Least privilege by default (issue 14, section 3): the roles `runbook-bot init-roles` prints
 * work on a real server, the read role cannot signal or write, and `targets` and `health`
 * warn when checks run as a superuser or a role that can signal backends.
 */
const servers = inject('postgresServers');

describe.each(servers)('least-privileged roles on $label', (server) => {
  let db: TestDatabase;
  const suffix = randomBytes(4).toString('hex');
  const read = `rb_read_${suffix}`;
  const fix = `rb_fix_${suffix}`;
  let readUrl: string;
  let fixUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase(server.url, { demoSchema: false });
    await db.admin.query('CREATE TABLE orders (id int PRIMARY KEY, status text)');
    const printed = await cli([
      'init-roles',
      '--database',
      db.name,
      '--read-role',
      read,
      '--remediation-role',
      fix,
    ]);
    expect(printed.code).toBe(0);
    await db.admin.query(printed.stdout);
    await db.admin.query(`ALTER ROLE ${read} PASSWORD 'read-pw'; ALTER ROLE ${fix} PASSWORD 'fix-pw'`);
    readUrl = withDatabase(server.url, db.name, { user: read, password: 'read-pw' });
    fixUrl = withDatabase(server.url, db.name, { user: fix, password: 'fix-pw' });
  });
  afterAll(async () => {
    await db?.drop();
    const root = await openSession(server.url, 'test-cleanup');
    await root.query(`DROP ROLE IF EXISTS ${read}; DROP ROLE IF EXISTS ${fix}`).catch(() => undefined);
    await root.end();
  });

  it('the read role reads statistics, cannot signal a session, and is read-only by default', async () => {
    const victim = await openSession(fixUrl, 'rb-victim');
    const reader = await openSession(readUrl, 'rb-reader');
    try {
      const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await expect(reader.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])).rejects.toThrow(
        /permission denied to terminate process|must be a member of the role whose process is being terminated/,
      );
      await expect(reader.query("INSERT INTO orders VALUES (1, 'new')")).rejects.toThrow(
        /read-only transaction/,
      );
      expect((await reader.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(0);
      // pg_monitor: other roles' queries are visible, as health checks need.
      const seen = await reader.query(
        "SELECT query FROM pg_stat_activity WHERE application_name = 'rb-victim' AND query <> '<insufficient privilege>'",
      );
      expect(seen.rows).toHaveLength(1);
      // The remediation role writes and signals (its own role's sessions at least).
      await openSession(fixUrl, 'rb-writer').then(async (writer) => {
        await writer.query("INSERT INTO orders VALUES (1, 'new')");
        await writer.end();
      });
    } finally {
      await reader.end();
      await victim.end().catch(() => undefined);
    }
  });

  it('targets and health warn about a superuser or a role that can signal, not about the read role', async () => {
    const asRead = await cli(['targets'], { TARGET_DATABASE_URL: readUrl });
    expect(asRead.stdout).toMatch(/checks run as\n\* default .* TARGET_DATABASE_URL +(\S+)\n/);
    expect(asRead.stdout).toMatch(new RegExp(`TARGET_DATABASE_URL +${read}\\n`));
    expect(asRead.stdout).not.toContain('warning');
    expect(asRead.code).toBe(0);

    const asSuperuser = await cli(['targets'], { TARGET_DATABASE_URL: db.url });
    expect(asSuperuser.stdout).toMatch(
      /warning \(default\): checks run as \w+, a superuser: give the read connection/,
    );
    expect(asSuperuser.code).toBe(1);

    const asFix = await cli(['targets', '--json'], { TARGET_DATABASE_URL: fixUrl });
    const [row] = JSON.parse(asFix.stdout);
    expect(row.role).toEqual({ role: fix, superuser: false, canSignal: true, readOnlyByDefault: false });
    expect(row.warning).toContain('a role that can cancel and terminate sessions (pg_signal_backend)');

    const healthAsSuperuser = await cli(['health', '--only', 'connections'], { TARGET_DATABASE_URL: db.url });
    expect(healthAsSuperuser.stdout).toContain(
      'a superuser: give the read connection a least-privileged role',
    );
    const healthAsRead = await cli(['health', '--only', 'connections'], { TARGET_DATABASE_URL: readUrl });
    expect(healthAsRead.stdout).not.toContain('warning');
  });

  it('init-roles refuses a role name it would have to quote', async () => {
    const result = await cli(['init-roles', '--read-role', 'Robert"; DROP TABLE x; --']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('--read-role "Robert"; DROP TABLE x; --" is not accepted');
  });

  it('init-roles refuses a reserved keyword and a pg_ role, whose printed SQL would not run', async () => {
    const reserved = await cli(['init-roles', '--read-role', 'user']);
    expect(reserved.code).toBe(3);
    expect(reserved.stderr).toContain(
      '--read-role "user" is not accepted: it is a keyword PostgreSQL reserves',
    );
    const own = await cli(['init-roles', '--remediation-role', 'pg_fix']);
    expect(own.code).toBe(3);
    expect(own.stderr).toContain("role names starting with pg_ are PostgreSQL's own");
  });
});
