import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestDatabase } from './databases.js';

/**
 * A fleet of four targets on three test databases, as TARGETS_FILE and its variables: shop
 * warns whatever else holds (its size threshold is tiny), billing and reports are as their
 * databases are, gone is unreachable (and its password must never show).
 */
export function fleetTargetsEnv(dbs: readonly TestDatabase[]): NodeJS.ProcessEnv {
  const path = join(tmpdir(), `fleet-targets-${dbs[0]!.name}.yml`);
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
  return {
    TARGETS_FILE: path,
    SHOP_URL: dbs[0]!.url,
    BILLING_URL: dbs[1]!.url,
    REPORTS_URL: dbs[2]!.url,
    GONE_URL: 'postgres://app:hunter2@127.0.0.1:1/app',
  };
}
