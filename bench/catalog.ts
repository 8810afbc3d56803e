/**
 * `npm run bench:catalog`: the full health check on databases with many tables, made here
 * (BENCH_TABLES, default "1000,50000": a multi-tenant schema, each table with a serial key,
 * so as many sequences and indexes), on a stock server (max_locks_per_transaction 64,
 * max_connections 100). For each size it prints the engine's time beside the same statements
 * through one bare `pg` client (the anchor, same run), the slowest checks, any check that did
 * not finish, the server CPU both used (when the server is on this machine), the machine's
 * load average, and the most locks one of the bot's backends held
 * (sampled from pg_locks throughout runs of their own). Figures only; nothing here asserts.
 *
 * BENCH_RUNS (default 3), BENCH_DATABASE_URL (a server to use instead of an embedded one;
 * the bench creates and drops its databases there), BENCH_EACH=1 (also each check's server
 * CPU alone, when the server is on this machine).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';
import { runHealthCheck } from '../src/health/engine.js';
import type { HealthReport } from '../src/health/types.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../src/store/embeddedPostgres.js';
import { TargetPools } from '../src/targets/pools.js';
import { BOT_APPLICATION_NAME, DEFAULT_TARGET_SETTINGS, type Target } from '../src/targets/target.js';
import { watchBotLocks } from '../test/support/lockWatcher.js';
import { percentile } from './stats.js';

const SIZES = (process.env.BENCH_TABLES ?? '1000,50000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Tables created per transaction: each takes a few locks, and the stock lock table is small. */
const TABLES_PER_TRANSACTION = 200;

async function server(): Promise<{
  adminUrl: string;
  urlOf: (db: string) => string;
  stop?: () => Promise<void>;
}> {
  if (process.env.BENCH_DATABASE_URL) {
    const base = new URL(process.env.BENCH_DATABASE_URL);
    return {
      adminUrl: base.toString(),
      urlOf: (db) => Object.assign(new URL(base.toString()), { pathname: `/${db}` }).toString(),
    };
  }
  const embedded: EmbeddedServer = await startEmbeddedPostgres({
    settings: { max_locks_per_transaction: '64', max_connections: '100' },
  });
  return { adminUrl: embedded.url(), urlOf: (db) => embedded.url(db), stop: () => embedded.stop() };
}

async function makeDatabase(adminUrl: string, url: string, name: string, tables: number): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // On a server of your own the made database is kept: making 50,000 tables takes minutes.
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 1) {
    const made = new pg.Client({ connectionString: url });
    await made.connect();
    const { rows } = await made.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'r' AND relname LIKE 'tenant\\_%'",
    );
    await made.end();
    if (rows[0]!.n === tables) {
      await admin.end();
      console.log(`  reusing ${name} (${tables.toLocaleString('en-US')} tables)`);
      return;
    }
  }
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  const started = performance.now();
  for (let from = 1; from <= tables; from += TABLES_PER_TRANSACTION) {
    const to = Math.min(tables, from + TABLES_PER_TRANSACTION - 1);
    await setup.query(`DO $$ BEGIN FOR i IN ${from}..${to} LOOP
      EXECUTE format('CREATE TABLE tenant_%s (id serial PRIMARY KEY, name text, created_at timestamptz DEFAULT now())', i);
      END LOOP; END $$`);
  }
  // A few rows and statistics, so sizes and counters are not all zero.
  await setup.query(`DO $$ BEGIN FOR i IN 1..${Math.min(tables, 200)} LOOP
    EXECUTE format('INSERT INTO tenant_%s (name) SELECT md5(g::text) FROM generate_series(1, %s) g', i, i * 10);
    END LOOP; END $$`);
  await setup.query('ANALYZE');
  await setup.end();
  console.log(
    `  made ${tables.toLocaleString('en-US')} tables in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}

async function measure(url: string, tables: number): Promise<void> {
  const target: Target = {
    name: `catalog-${tables}`,
    url,
    tags: [],
    settings: { ...DEFAULT_TARGET_SETTINGS },
    thresholdOverrides: {},
    source: 'bench',
  };
  const pools = new TargetPools();
  const pool = pools.readOnly(target);
  const bare = new pg.Client({ connectionString: url });
  await bare.connect();
  try {
    const statements: Array<[string, unknown[]]> = [];
    await runHealthCheck(target, pool, { onStatement: (sql, params) => statements.push([sql, params]) });
    const engine: number[] = [];
    const anchor: number[] = [];
    const engineCpu: number[] = [];
    const anchorCpu: number[] = [];
    const barePid = (await bare.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const botPids = async () =>
      (
        await bare.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
          BOT_APPLICATION_NAME,
        ])
      ).rows.map((row) => row.pid);
    let last: HealthReport | undefined;
    const loadBefore = loadavg()[0]!;
    for (let run = 0; run < RUNS; run++) {
      const cpuBefore = new Map((await botPids()).map((pid) => [pid, serverCpuMs(url, pid)]));
      const report = await runHealthCheck(target, pool);
      const used = (await botPids()).map((pid) => cpuDelta(cpuBefore.get(pid) ?? 0, serverCpuMs(url, pid)));
      engine.push(report.durationMs);
      last = report;
      const bareBefore = serverCpuMs(url, barePid);
      const started = performance.now();
      for (const [sql, params] of statements) {
        await bare.query(sql, params);
        // A check that reads in short transactions leaves one open, as the engine's session
        // expects; the bare client ends it so its timeouts do not reach the next statement.
        if (sql.includes('BEGIN READ ONLY')) await bare.query('ROLLBACK');
      }
      anchor.push(performance.now() - started);
      if (bareBefore !== undefined && used.every((ms) => ms !== undefined)) {
        engineCpu.push(used.reduce<number>((sum, ms) => sum + ms!, 0));
        anchorCpu.push(cpuDelta(bareBefore, serverCpuMs(url, barePid))!);
      }
    }
    const loadAfter = loadavg()[0]!;
    // Locks are sampled in runs of their own: the watcher queries pg_locks without pause and
    // would take one of the machine's cores from the timed runs.
    let mostLocks = 0;
    for (let run = 0; run < RUNS; run++) {
      const watcher = watchBotLocks(url);
      await runHealthCheck(target, pool);
      mostLocks = Math.max(mostLocks, (await watcher.stop()).most);
    }
    const p50 = percentile(engine, 50);
    const bareP50 = percentile(anchor, 50);
    const unfinished = last!.findings.filter((f) => f.status === 'error');
    const slowest = [...last!.findings].sort((a, b) => b.durationMs - a.durationMs).slice(0, 6);
    console.log(
      `  engine p50 ${p50.toFixed(0)} ms beside bare pg (same ${statements.length} statements, 1 connection) p50 ${bareP50.toFixed(0)} ms: ratio ${(p50 / bareP50).toFixed(2)} (goal <= 1.3 at 1,000 tables; engine <= 2,000 ms at 50,000)`,
    );
    console.log(
      engineCpu.length === RUNS
        ? `  server CPU per run (the bot's backends, parallel workers not counted) p50 ${percentile(engineCpu, 50).toFixed(0)} ms beside bare pg ${percentile(anchorCpu, 50).toFixed(0)} ms: ratio ${(percentile(engineCpu, 50) / percentile(anchorCpu, 50)).toFixed(2)}`
        : '  server CPU: not measured (the server is not on this machine)',
    );
    console.log(
      `  load average (1 min) ${loadBefore.toFixed(1)} before the timed runs, ${loadAfter.toFixed(1)} after, on ${availableParallelism()} cores`,
    );
    console.log(
      `  most locks held by one bot backend: ${mostLocks} (goal <= 100; ${RUNS} runs of their own)`,
    );
    console.log(
      `  checks not finished: ${unfinished.length === 0 ? 'none' : unfinished.map((f) => `${f.id} (${f.summary})`).join('; ')}`,
    );
    console.log(
      `  slowest checks: ${slowest.map((f) => `${f.id} ${f.durationMs.toFixed(0)} ms`).join(', ')}`,
    );
    if (process.env.BENCH_EACH === '1' && engineCpu.length > 0) {
      // Each check alone, twice (the first warms its connection): what it costs the server,
      // and so which checks the engine should start first on a big catalog.
      const each: Array<[string, number]> = [];
      for (const { id } of last!.findings) {
        let used = 0;
        for (let run = 0; run < 2; run++) {
          const before = new Map((await botPids()).map((pid) => [pid, serverCpuMs(url, pid)]));
          await runHealthCheck(target, pool, { only: [id] });
          used = 0;
          for (const pid of await botPids())
            used += cpuDelta(before.get(pid) ?? 0, serverCpuMs(url, pid)) ?? 0;
        }
        each.push([id, used]);
      }
      each.sort((a, b) => b[1] - a[1]);
      console.log(
        `  server CPU of each check alone (warm connection): ${each.map(([id, ms]) => `${id} ${ms} ms`).join(', ')}`,
      );
    }
  } finally {
    await bare.end();
    await pools.closeAll();
  }
}

/**
 * CPU time a server process has used, from /proc (Linux, USER_HZ 100), when the server runs
 * on this machine: unlike wall time it hardly moves with the load other work puts on the
 * machine. Undefined for a remote server or a process that is gone.
 */
function serverCpuMs(url: string, pid: number): number | undefined {
  if (!['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname)) return undefined;
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') return undefined;
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

function cpuDelta(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

async function main() {
  const where = await server();
  try {
    for (const tables of SIZES) {
      const name = `bench_catalog_${tables}`;
      const url = where.urlOf(name);
      console.log(`${tables.toLocaleString('en-US')} tables (${RUNS} runs):`);
      await makeDatabase(where.adminUrl, url, name, tables);
      await measure(url, tables);
    }
  } finally {
    await where.stop?.();
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
