import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cliApp.js';
import { cli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');
const ONLY = ['--only', 'connections,database_size'];

describe('runbook-bot health --all / --tag', () => {
  let dbs: TestDatabase[];
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dbs = await Promise.all([0, 1, 2].map(() => createTestDatabase(server!.url, { demoSchema: false })));
    const path = join(tmpdir(), `fleet-targets-${dbs[0]!.name}.yml`);
    // shop warns (its size threshold is tiny), billing is fine, reports is fine; gone is unreachable.
    writeFileSync(
      path,
      [
        'targets:',
        '  shop:',
        '    url_env: SHOP_URL',
        '    tags: [production]',
        '    thresholds:',
        '      database_size.warn: 1MB',
        '  billing:',
        '    url_env: BILLING_URL',
        '    tags: [production, payments]',
        '  reports:',
        '    url_env: REPORTS_URL',
        '    tags: [staging]',
        '  gone:',
        '    url_env: GONE_URL',
        '    tags: [retired]',
        '    connect_timeout_ms: 1000',
        '',
      ].join('\n'),
    );
    env = {
      TARGETS_FILE: path,
      SHOP_URL: dbs[0]!.url,
      BILLING_URL: dbs[1]!.url,
      REPORTS_URL: dbs[2]!.url,
      GONE_URL: 'postgres://app:hunter2@127.0.0.1:1/app',
    };
  });
  afterAll(async () => {
    await Promise.all((dbs ?? []).map((db) => db.drop()));
  });

  it('checks every target with a tag and prints one matrix, worst first, exiting with the worst status', async () => {
    const result = await cli(['health', '--tag', 'production', ...ONLY], env);
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^target\s+status\s+duration\s+worst findings$/);
    expect(lines[1]).toMatch(/^shop\s+WARN\s+.*database_size \(warn\)$/);
    expect(lines[2]).toMatch(/^billing\s+OK\s+[\d.]+ s$/);
    expect(result.stdout).not.toContain('reports');
    expect(result.stdout).toContain('tag:production: WARN — 2 targets: 1 warn, 1 ok');
  });

  it('checks all targets with --all and with --target all; an unreachable one is the worst and says why', async () => {
    for (const argv of [['--all'], ['--target', 'all']]) {
      const result = await cli(['health', ...argv, ...ONLY], env);
      expect(result.code).toBe(3);
      const lines = result.stdout.split('\n');
      expect(lines[1]).toMatch(/^gone\s+UNREACH\s+.*connection refused by 127\.0\.0\.1:1/);
      expect(lines[2]).toMatch(/^shop\s+WARN/);
      expect(lines.slice(3, 5).map((line) => line.split(/\s+/)[0])).toEqual(['billing', 'reports']);
      expect(result.stdout).toContain('all targets: UNREACH — 4 targets: 1 unreachable, 1 warn, 2 ok');
      expect(result.stdout).not.toContain('hunter2');
    }
  });

  it('prints one JSON document per target with --json, a line each', async () => {
    const result = await cli(['health', '--tag', 'production', '--json', ...ONLY], env);
    expect(result.code).toBe(1);
    const reports = result.stdout.split('\n').map((line) => JSON.parse(line));
    expect(reports.map((report) => [report.target, report.status]).sort()).toEqual([
      ['billing', 'ok'],
      ['shop', 'warn'],
    ]);
    expect(reports[0].findings.map((f: { id: string }) => f.id).sort()).toEqual([
      'connections',
      'database_size',
    ]);
  });

  it('keeps to FLEET_CONCURRENCY × pool_max target connections and closes each target after its run', async () => {
    const watcher = new pg.Client({ connectionString: server!.url });
    await watcher.connect();
    let most = 0;
    let watching = true;
    const names = dbs.map((db) => db.name);
    const watch = (async () => {
      while (watching) {
        const { rows } = await watcher.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'runbook-bot' AND datname = ANY($1)`,
          [names],
        );
        most = Math.max(most, rows[0]!.n);
      }
    })();
    try {
      const result = await cli(
        ['health', '--tag', 'production', '--only', 'connections,database_size,cache_hit_ratio'],
        {
          ...env,
          FLEET_CONCURRENCY: '1',
        },
      );
      expect(result.code).toBe(1);
    } finally {
      watching = false;
      await watch;
    }
    // One target at a time with pool_max 2: never more than 2, and none left open afterwards.
    expect(most).toBeLessThanOrEqual(2);
    const { rows } = await watcher.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'runbook-bot' AND datname = ANY($1)`,
      [names],
    );
    await watcher.end();
    expect(rows[0]!.n).toBe(0);
  });

  it('writes a progress line only when given a terminal to overwrite', async () => {
    const progress: string[] = [];
    const out: string[] = [];
    const code = await runCli(['health', '--tag', 'production', ...ONLY], {
      stdout: (text) => out.push(text),
      stderr: () => undefined,
      progress: (text) => progress.push(text),
      env: { LOG_LEVEL: 'silent', ...env },
      color: false,
    });
    expect(code).toBe(1);
    expect(progress).toEqual([
      'tag:production: 0/2 targets checked (8 at a time)',
      'tag:production: 1/2 targets checked (8 at a time)',
      'tag:production: 2/2 targets checked (8 at a time)',
      '',
    ]);
    expect(out.join('\n')).not.toContain('targets checked');
  });

  it.each([
    [['--tag', 'prod'], /No target has the tag "prod". Known tags: payments, production, retired, staging./],
    [['--all', '--tag', 'production'], /Give one of --target, --all and --tag, not several./],
    [['--target', 'tag:'], /Name the tag after "tag:"/],
  ])('exits 3 and says what was wrong for %j', async (argv, message) => {
    const result = await cli(['health', ...argv], env);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(message);
  });

  it('refuses a FLEET_CONCURRENCY that is not a small positive number', async () => {
    const result = await cli(['health', '--all'], { ...env, FLEET_CONCURRENCY: '0' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('FLEET_CONCURRENCY');
  });
});
