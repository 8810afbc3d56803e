import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');

describe('runbook-bot CLI', () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    db = await createTestDatabase(server!.url);
    env = { TARGET_DATABASE_URL: db.url };
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('prints a readable report and exits 0 when all is well', async () => {
    const result = await cli(['health', '--only', 'connections,database_size'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Health of default: OK \(PostgreSQL \d+/);
    expect(result.stdout).toMatch(/OK\s+connections/);
  });

  it('prints JSON in the documented shape', async () => {
    const result = await cli(['health', '--json', '--only', 'database_size'], env);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      target: 'default',
      status: 'ok',
      serverVersion: expect.any(String),
      durationMs: expect.any(Number),
      findings: [
        {
          id: 'database_size',
          title: 'Database size',
          status: 'ok',
          summary: expect.stringContaining('database'),
          threshold: { warn: 8 * 1024 ** 3, critical: 10 * 1024 ** 3 },
          evidence: [expect.objectContaining({ database: db.name })],
          remediation: null,
        },
      ],
    });
  });

  it('exits 1 on warn and 2 on critical, with thresholds from the command line', async () => {
    const warn = await cli(
      ['health', '--only', 'database_size', '--threshold', 'database_size.warn=1MB'],
      env,
    );
    expect(warn.code).toBe(1);
    const critical = await cli(
      [
        'health',
        '--only',
        'database_size',
        '--threshold',
        'database_size.warn=1MB',
        '--threshold',
        'database_size.critical=2MB',
      ],
      env,
    );
    expect(critical.code).toBe(2);
    expect(critical.stdout).toContain('CRIT');
  });

  it('reads thresholds and targets from a targets file', async () => {
    const path = join(tmpdir(), `cli-targets-${db.name}.yml`);
    writeFileSync(
      path,
      'targets:\n  shop:\n    url_env: SHOP_URL\n    thresholds:\n      database_size.warn: 1MB\n',
    );
    const result = await cli(['health', '--target', 'shop', '--only', 'database_size'], {
      TARGETS_FILE: path,
      SHOP_URL: db.url,
    });
    expect(result.code).toBe(1);
    const listed = await cli(['targets'], { TARGETS_FILE: path, SHOP_URL: db.url });
    expect(listed.stdout).toContain('shop');
    expect(listed.stdout).not.toContain(new URL(db.url).password);
  });

  it('lists a fleet aligned, marks the default and says a warning shared by targets once', async () => {
    const path = join(tmpdir(), `cli-fleet-${db.name}.yml`);
    writeFileSync(
      path,
      'default: beta\ntargets:\n' +
        '  alpha:\n    url_env: FLEET_URL\n    tags: [production, eu]\n' +
        '  beta:\n    url_env: FLEET_URL\n' +
        '  gamma-long-name:\n    url_env: FLEET_URL\n    tags: [staging]\n',
    );
    // The test server's role is a superuser: every target gets the same warning.
    const listed = await cli(['targets'], { TARGETS_FILE: path, FLEET_URL: db.url });
    expect(listed.code).toBe(1);
    const lines = listed.stdout.split('\n');
    expect(lines[0]).toBe(`3 targets from ${path}`);
    const rows = ['alpha', 'beta', 'gamma-long-name'].map(
      (name) => lines.find((line) => line.slice(2).startsWith(`${name} `))!,
    );
    expect(rows.map((row) => row.slice(0, 2))).toEqual(['  ', '* ', '  ']);
    // Aligned columns: the tags start at one offset on every row, the source is not repeated per row.
    const tagColumn = rows.map((row) => row.search(/(production,eu|—|staging)/));
    expect(new Set(tagColumn).size).toBe(1);
    expect(rows.join('\n')).not.toContain(path);
    expect(listed.stdout).toContain('* default target: beta');
    const warnings = lines.filter((line) => line.startsWith('warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning \(all 3 targets\): checks run as \S+, a superuser/);
  });

  it("takes a target's thresholds from the alert table of a runbook it names, and refuses an unknown one", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-runbooks-'));
    writeFileSync(
      join(dir, 'team.md'),
      '# Team Ops\n\n## Alert Thresholds\n\n| Metric | Warning | Critical |\n|---|---|---|\n| DB Size | > 1MB | > 1TB |\n',
    );
    const path = join(tmpdir(), `cli-runbook-targets-${db.name}.yml`);
    writeFileSync(path, 'targets:\n  shop:\n    url_env: SHOP_URL\n    runbooks: [team-ops]\n');
    const env = { TARGETS_FILE: path, SHOP_URL: db.url, RUNBOOKS_DIR: dir };
    const result = await cli(['health', '--only', 'database_size', '--json'], env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).findings[0]).toMatchObject({
      status: 'warn',
      threshold: { warn: 1024 ** 2, critical: 1024 ** 4 },
    });

    writeFileSync(path, 'targets:\n  shop:\n    url_env: SHOP_URL\n    runbooks: [team-opps]\n');
    const unknown = await cli(['health', '--only', 'database_size'], env);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('runbooks names "team-opps", which is not a loaded runbook');
    expect(unknown.stderr).toContain('team-ops');
  });

  it('exits 4, not the 3 of bad input, with one clear line for an unreachable target', async () => {
    const gone = { TARGET_DATABASE_URL: 'postgres://app:hunter2@127.0.0.1:1/app' };
    const result = await cli(['health'], gone);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('unreachable: connection refused by 127.0.0.1:1');
    expect(result.stdout + result.stderr).not.toContain('hunter2');
    // Every command that needs the database says "a database is down" the same way.
    const run = await cli(['run', 'production-operations-runbook#2-shopify-sync-queue-stuck'], gone);
    expect(run.stderr).toContain('cannot reach default: connection refused by 127.0.0.1:1');
    expect(run.code).toBe(4);
    const listed = await cli(['targets'], gone);
    expect(listed.stdout).toContain('unreachable: connection refused by 127.0.0.1:1');
    expect(listed.code).toBe(4);
  });

  it.each([
    [['health', '--only', 'nope'], /Unknown check "nope". Known checks: connections,/],
    [
      ['health', '--only', 'conections'],
      /^error: Unknown check "conections" \(did you mean "connections"\?\)\.$/m,
    ],
    [
      ['health', '--threshold', 'conections.warn=5'],
      /conections\.warn: unknown check "conections" \(did you mean "connections"\? run `runbook-bot checks`/,
    ],
    [['health', '--threshold', 'connections.warn'], /should look like CHECK.KEY=VALUE/],
    [['health', '--threshold', 'connections.warn=lots'], /"lots" is not a valid count value/],
    [
      ['health', '--threshold', 'connections.warn=150'],
      /connections\.warn 150 \(--threshold\) is not below connections\.critical 80 \(the default\)/,
    ],
    [['health', '--target', 'prod'], /Unknown target "prod". Known targets: default./],
    [['health', '--budget', '-4'], /--budget must be a positive number/],
    [['halth'], /unknown command 'halth'/],
  ])('exits 3 and says what was wrong for %j', async (argv, message) => {
    const result = await cli(argv, env);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(message);
  });

  it('exits 3 when no target is configured, saying how to configure one', async () => {
    const result = await cli(['health'], {});
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Set TARGET_DATABASE_URL, or TARGETS_FILE');
  });

  it('lists checks with their thresholds', async () => {
    const result = await cli(['checks', '--json'], {});
    const checks = JSON.parse(result.stdout) as Array<{ id: string; thresholds: Record<string, string> }>;
    expect(checks.find((check) => check.id === 'database_size')?.thresholds).toEqual({
      warn: '8 GB',
      critical: '10 GB',
    });
  });

  it('runs as a program with the documented exit code', async () => {
    const run = promisify(execFile);
    const failure = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli.ts',
        'health',
        '--only',
        'database_size',
        '--threshold',
        'database_size.warn=1MB',
      ],
      {
        env: { ...process.env, TARGET_DATABASE_URL: db.url },
      },
    ).catch((err: { code: number; stdout: string }) => err);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stdout: string }).stdout).toContain('WARN');
  });

  it('ends quietly when its reader goes away (`runbook-bot checks | head -1`)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'checks'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // The reader is gone before the first line is written (as `head` is after its lines):
    // `checks` prints less than a pipe's buffer, so closing after a read would never fail a write.
    child.stdout.destroy();
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it('says the state database is not migrated yet instead of failing with a stack trace', async () => {
    // db holds a shop, not the bot's state: no runs, no incidents.
    const history = await cli(['history'], { DATABASE_URL: db.url });
    expect(history).toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/has no runs yet: start the bot/),
    });
    const report = await cli(['report', 'INC-1'], { DATABASE_URL: db.url });
    expect(report).toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/has no incidents yet: start the bot/),
    });
  });

  it('says the state database cannot be reached, naming the host, instead of a stack trace', async () => {
    const history = await cli(['history'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/state' });
    expect(history).toMatchObject({
      code: 3,
      stderr: expect.stringContaining(
        'Cannot reach the state database (DATABASE_URL): connection refused by 127.0.0.1:1 (is Postgres running and listening there?).',
      ),
    });
    expect(history.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a DATABASE_URL that is not a Postgres URL, as the service does', async () => {
    for (const url of ['mysql://u:p@127.0.0.1:1/db', 'postgres://u:p@127.0.0.1:notaport/db', 'not a url']) {
      const history = await cli(['history'], { DATABASE_URL: url });
      expect(history).toMatchObject({
        code: 3,
        stderr: expect.stringContaining('DATABASE_URL must be a postgres:// or postgresql:// URL'),
      });
    }
  });
});
