import pg from 'pg';
import { DEMO_APP_ROLE } from './schema.js';

/**
 * Real faults, induced through real sessions, the way they happen in production: nothing
 * here fakes a catalog row. Each inducer returns what it started so `release` can end it.
 */
export interface InducedFaults {
  /** Backend pids of the sessions holding the faults open. */
  pids: number[];
  release(): Promise<void>;
}

const FAULT_APP = 'demo-app';

/** `url` logged in as the app role instead: the sessions an application of the shop would open. */
function asApp(url: string): string {
  const app = new URL(url);
  app.username = DEMO_APP_ROLE.name;
  app.password = DEMO_APP_ROLE.password;
  return app.toString();
}

async function session(url: string, applicationName = FAULT_APP): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  // A fault session ended by release() errors on purpose; nothing to report.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function pidOf(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

/** Waits until `pid` is waiting on a lock, so a chain is in place before anyone looks. */
async function waitUntilBlocked(admin: pg.Client, pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await admin.query('SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted', [pid]);
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`session ${pid} never started waiting for its lock`);
}

export type FaultName =
  | 'idle_in_transaction'
  | 'lock_chain'
  | 'long_query'
  | 'dead_tuples'
  | 'duplicate_trigger'
  | 'invalid_index'
  | 'slow_statement';

export const ALL_FAULTS: FaultName[] = [
  'idle_in_transaction',
  'lock_chain',
  'long_query',
  'dead_tuples',
  'duplicate_trigger',
  'invalid_index',
  'slow_statement',
];

/** Induces the named faults in the demo schema at `url` (a database holding DEMO_SCHEMA). */
export async function induceFaults(url: string, faults: FaultName[] = ALL_FAULTS): Promise<InducedFaults> {
  // Schema changes (a trigger, an index, autovacuum off) stay the owner's, as a migration's would.
  const admin = await session(url, 'demo-setup');
  const appUrl = asApp(url);
  const held: pg.Client[] = [];
  const pids: number[] = [];
  const hold = async (client: pg.Client) => {
    held.push(client);
    const pid = await pidOf(client);
    pids.push(pid);
    return pid;
  };
  const pending: Promise<unknown>[] = [];

  try {
    for (const fault of faults) {
      switch (fault) {
        case 'idle_in_transaction':
          // Two workers that took a row of the sync queue and never committed.
          for (const id of [1, 2]) {
            const worker = await session(appUrl, 'shopify-sync-worker');
            await hold(worker);
            await worker.query('BEGIN');
            await worker.query('UPDATE shopify_sync_queue SET retry_count = retry_count + 1 WHERE id = $1', [
              id,
            ]);
          }
          break;
        case 'lock_chain': {
          // An admin session holds a lot row; two reservations queue up behind it.
          const holder = await session(appUrl, 'admin-console');
          await hold(holder);
          await holder.query('BEGIN');
          await holder.query('UPDATE lots SET reserved_meters = reserved_meters + 1 WHERE id = 1');
          for (const name of ['reservations-api', 'reservations-api']) {
            const waiter = await session(appUrl, name);
            const pid = await hold(waiter);
            pending.push(
              waiter
                .query('UPDATE lots SET reserved_meters = reserved_meters + 2 WHERE id = 1')
                .catch(() => undefined),
            );
            await waitUntilBlocked(admin, pid);
          }
          break;
        }
        case 'long_query': {
          const reporter = await session(appUrl, 'reporting');
          await hold(reporter);
          pending.push(reporter.query('SELECT count(*), pg_sleep(600) FROM jobs_db').catch(() => undefined));
          break;
        }
        case 'dead_tuples':
          // Autovacuum switched off on a busy table (it happens during bulk loads and is forgotten).
          await admin.query('ALTER TABLE reservation_lines SET (autovacuum_enabled = false)');
          await admin.query("UPDATE reservation_lines SET status = 'released'");
          await admin.query("UPDATE reservation_lines SET status = 'active' WHERE id % 4 = 0");
          break;
        case 'duplicate_trigger':
          // Seed 000: the same version-bump trigger created twice under two names.
          await admin.query(`
            CREATE OR REPLACE FUNCTION bump_job_version() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.version := OLD.version + 1; RETURN NEW; END $$;
            CREATE TRIGGER jobs_version_bump BEFORE UPDATE ON jobs_db FOR EACH ROW EXECUTE FUNCTION bump_job_version();
            CREATE TRIGGER trg_jobs_db_version BEFORE UPDATE ON jobs_db FOR EACH ROW EXECUTE FUNCTION bump_job_version();`);
          break;
        case 'invalid_index':
          // A unique index built concurrently over duplicate phones fails and stays INVALID.
          await admin
            .query('CREATE UNIQUE INDEX CONCURRENTLY customers_db_phone_key ON customers_db (phone)')
            .catch((err: { code?: string }) => {
              if (err.code !== '23505') throw err;
            });
          break;
        case 'slow_statement':
          await admin.query("SELECT count(*) FROM jobs_db, pg_sleep(1.1) WHERE status = 'open'");
          break;
      }
    }
  } catch (err) {
    await endAll(admin, held, pids);
    throw err;
  }

  return {
    pids,
    async release() {
      await endAll(admin, held, pids);
      await Promise.allSettled(pending);
    },
  };
}

async function endAll(admin: pg.Client, held: pg.Client[], pids: number[]): Promise<void> {
  // Terminate server-side: a backend in pg_sleep does not notice its client going away.
  if (pids.length > 0) {
    await admin
      .query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids])
      .catch(() => undefined);
  }
  await Promise.allSettled(held.map((client) => client.end()));
  await admin.end().catch(() => undefined);
}
