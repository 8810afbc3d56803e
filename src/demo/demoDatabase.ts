import pg from 'pg';
import type { EmbeddedServer } from '../store/embeddedPostgres.js';
import { DEMO_SCHEMA } from './schema.js';

/** Creates `name` on the server (empty, or with the demo shop schema) and returns its URL. */
export async function createDatabase(
  server: EmbeddedServer,
  name: string,
  options: { demoSchema: boolean },
): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = server.url(name);
  if (options.demoSchema) {
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    try {
      await setup.query(DEMO_SCHEMA);
    } finally {
      await setup.end();
    }
  }
  return url;
}
