import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TargetPools } from '../../src/targets/pools.js';
import { BOT_APPLICATION_NAME } from '../../src/targets/target.js';
import { cli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../support/databases.js';
import { startFreezableProxy } from '../support/freezableProxy.js';
import { watchOverlappingQueries } from '../support/overlappingQueries.js';

const [server] = inject('postgresServers');

/** A URL naming an application of its own, which the bot's name must still win over. */
function namedElsewhere(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', 'someone-else');
  return parsed.toString();
}

/**
 * `runbook-bot …` in a process of its own, with every query sent on a busy pg client written
 * to stderr (test/support/overlappingQueriesPreload.ts) and pg's deprecation warnings traced there:
 * node warns once per process, so only a fresh process shows whether a path warns.
 */
function runCliProcess(argv: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [
        '--trace-deprecation',
        '--import',
        'tsx',
        '--import',
        './test/support/overlappingQueriesPreload.ts',
        'src/cli.ts',
        ...argv,
      ],
      { env: { ...process.env, LOG_LEVEL: 'warn', NODE_OPTIONS: '', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

describe('one query at a time on each pg client', () => {
  let shop: TestDatabase;
  let billing: TestDatabase;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    [shop, billing] = await Promise.all([
      createTestDatabase(server!.url),
      createTestDatabase(server!.url, { demoSchema: false }),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'one-query-'));
    const targetsFile = join(dir, 'targets.yml');
    writeFileSync(
      targetsFile,
      [
        'default: shop',
        'targets:',
        '  shop:',
        '    url_env: SHOP_URL',
        '    remediation_url_env: SHOP_URL',
        '  billing:',
        '    url_env: BILLING_URL',
        '',
      ].join('\n'),
    );
    env = { TARGETS_FILE: targetsFile, SHOP_URL: shop.url, BILLING_URL: namedElsewhere(billing.url) };
  });
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await Promise.all([shop?.drop(), billing?.drop()]);
  });

  it('a fleet health run, a procedure run and a preview never send a query while one is in flight', async () => {
    // Out of retries: what the preview's step resets, so its plan has rows to count.
    await shop.admin.query("UPDATE shopify_sync_queue SET retry_count = 3 WHERE status = 'failed'");
    const runs = [
      ['health', '--all'],
      ['run', 'postgres-health#cancel-long-running-query'],
      ['preview', 'production-operations-runbook#2-shopify-sync-queue-stuck', '6'],
    ];
    for (const argv of runs) {
      const result = await runCliProcess(argv, env);
      // The commands themselves worked (a health run may warn about the test databases).
      expect(result.stdout, argv.join(' ')).not.toBe('');
      expect(result.stderr, argv.join(' ')).toBe('');
    }
  });

  it("names its sessions runbook-bot even where the target's URL names another application", async () => {
    const pools = new TargetPools();
    try {
      const client = await pools.readOnly(testTarget(namedElsewhere(billing.url))).connect();
      try {
        const { rows } = await client.query<{ application_name: string }>('SHOW application_name');
        expect(rows[0]!.application_name).toBe(BOT_APPLICATION_NAME);
      } finally {
        client.release();
      }
    } finally {
      await pools.closeAll();
    }
  });

  it('a target going silent under a procedure check or a preview: the run ends, and nothing is sent behind the statement', async () => {
    // Out of retries: what the preview's step resets.
    await shop.admin.query("UPDATE shopify_sync_queue SET retry_count = 3 WHERE status = 'failed'");
    const runs: Array<{ argv: string[]; freezeOn: string; says: RegExp }> = [
      // The check's own statement, read through a cursor.
      {
        argv: ['run', 'postgres-health#cancel-long-running-query'],
        freezeOn: 'running_for',
        says: /no answer from the target \(Query read timeout\)/,
      },
      {
        argv: ['preview', 'production-operations-runbook#2-shopify-sync-queue-stuck', '6'],
        freezeOn: 'shopify_sync_queue',
        says: /Query read timeout/,
      },
    ];
    for (const { argv, freezeOn, says } of runs) {
      const proxy = await startFreezableProxy(shop.url);
      const targetsFile = join(dir, 'silent.yml');
      writeFileSync(
        targetsFile,
        [
          'targets:',
          '  silent:',
          '    url_env: SILENT_URL',
          '    remediation_url_env: SILENT_URL',
          // pg's own read timeout is this plus a margin: the server never sees the statement.
          '    statement_timeout_ms: 200',
          '    lock_timeout_ms: 100',
          '',
        ].join('\n'),
      );
      const overlaps: string[] = [];
      const stop = watchOverlappingQueries((text) => overlaps.push(text));
      try {
        proxy.freezeOn(freezeOn);
        const result = await cli(argv, { TARGETS_FILE: targetsFile, SILENT_URL: proxy.url });
        expect(`${result.stdout}\n${result.stderr}`, argv.join(' ')).toMatch(says);
        expect(proxy.heldBack(), 'the statement was held back').toBeGreaterThan(0);
        expect(overlaps, argv.join(' ')).toEqual([]);
      } finally {
        stop();
        await proxy.close();
      }
    }
  });
});
