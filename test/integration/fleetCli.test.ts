import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cliApp.js';
import { eventually } from '../support/botHarness.js';
import { cli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { fleetTargetsEnv } from '../support/fleet.js';

const [server] = inject('postgresServers');
const ONLY = ['--only', 'connections,database_size'];

describe('runbook-bot health --all / --tag', () => {
  let dbs: TestDatabase[];
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dbs = await Promise.all([0, 1, 2].map(() => createTestDatabase(server!.url, { demoSchema: false })));
    env = fleetTargetsEnv(dbs);
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
    expect(lines[2]).toMatch(/^billing\s+OK\s+(\d+ ms|\d+\.\d s)$/);
    expect(result.stdout).not.toContain('reports');
    expect(result.stdout).toContain('tag:production: WARN — 2 targets: 1 warn, 1 ok');
  });

  it('checks all targets with --all and with --target all; an unreachable one is the worst and says why', async () => {
    for (const argv of [['--all'], ['--target', 'all']]) {
      const result = await cli(['health', ...argv, ...ONLY], env);
      // 4, a database down, not 3: the command itself was right.
      expect(result.code).toBe(4);
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

  it("closes each target's connections when its run ends", async () => {
    const result = await cli(['health', '--tag', 'production', ...ONLY], { ...env, FLEET_CONCURRENCY: '1' });
    expect(result.code).toBe(1);
    const watcher = new pg.Client({ connectionString: server!.url });
    await watcher.connect();
    try {
      // A closed connection's backend leaves pg_stat_activity a moment after the client hung up.
      await eventually(async () => {
        const { rows } = await watcher.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'runbook-bot' AND datname = ANY($1)`,
          [dbs.map((db) => db.name)],
        );
        return rows[0]!.n === 0 ? true : undefined;
        // Well before an idle pool would let its connections go on its own (10 s).
      }, 3000);
    } finally {
      await watcher.end();
    }
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
      'tag:production: 0/2 targets checked (all at once)',
      'tag:production: 1/2 targets checked (all at once)',
      'tag:production: 2/2 targets checked (all at once)',
      '',
    ]);
    expect(out.join('\n')).not.toContain('targets checked');
  });

  it('keeps to TARGET_CONNECTION_BUDGET, saying on the progress line and in the matrix who waited', async () => {
    const progress: string[] = [];
    const out: string[] = [];
    const code = await runCli(['health', '--tag', 'production', ...ONLY], {
      stdout: (text) => out.push(text),
      stderr: () => undefined,
      progress: (text) => progress.push(text),
      env: { LOG_LEVEL: 'silent', ...env, TARGET_CONNECTION_BUDGET: '1' },
      color: false,
    });
    expect(code).toBe(1);
    // Two targets, one slot: the second waits for the first's connection to close.
    expect(progress).toContain(
      'tag:production: 0/2 targets checked (at most 1 at a time: TARGET_CONNECTION_BUDGET), 1 waiting for a connection slot',
    );
    expect(progress.at(-2)).toBe(
      'tag:production: 2/2 targets checked (at most 1 at a time: TARGET_CONNECTION_BUDGET)',
    );
    // The matrix says the figure that held, not FLEET_CONCURRENCY's 8.
    expect(out.join('\n')).toMatch(/, at most 1 at a time: TARGET_CONNECTION_BUDGET\)/);
    expect(out.join('\n')).toMatch(
      /1 target waited for a target connection slot \(TARGET_CONNECTION_BUDGET\), up to [\d.]+ m?s/,
    );
  });

  it('refuses a TARGET_CONNECTION_BUDGET below one', async () => {
    const result = await cli(['health', '--all'], { ...env, TARGET_CONNECTION_BUDGET: '0' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('TARGET_CONNECTION_BUDGET');
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
