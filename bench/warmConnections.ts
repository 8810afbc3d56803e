/**
 * `npm run bench:warm`: what a scheduled health run costs the target's server, in backend
 * CPU, on new connections (how a run found its pool after the 10 s idle timeout) against
 * connections kept open between runs (a warm pool). The server's CPU is read from /proc: the
 * postmaster's own and its reaped children's (cutime/cstime, which is where a closed
 * backend's CPU ends up), plus its live children's. Runs alternate in rounds so drift and
 * background work fall on all variants alike. Figures only; nothing here asserts.
 *
 * Variants, each a full health run with the default pool_max 2:
 *   cold     both connections new (the anchor: what every scheduled run paid before)
 *   warm-1   one connection kept (pool min 1), the second lane's new
 *   warm-2   both connections kept: what the worker does for a target scheduled at most an
 *            hour apart (TargetPools' warmMs)
 *
 * BENCH_RUNS (runs per variant, default 40), BENCH_TABLES (extra tables with an index and a
 * sequence each, default 0: a bigger catalog). Linux only (/proc). Starts its own embedded
 * Postgres, so other work on the machine's servers does not count.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { createDatabase } from '../src/demo/demoDatabase.js';
import { runHealthCheck } from '../src/health/engine.js';
import { startEmbeddedPostgres } from '../src/store/embeddedPostgres.js';
import { TargetPools } from '../src/targets/pools.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from '../src/targets/target.js';
import { percentile } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const TABLES = Number(process.env.BENCH_TABLES ?? 0);
const ROUNDS = 4;
const TICK_MS = 10; // CLK_TCK 100

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The server's CPU so far, in ms: the postmaster, its reaped backends, its live ones. */
function serverCpuMs(postmaster: number): number {
  const f = statFields(postmaster);
  // utime 14, stime 15, cutime 16, cstime 17 (1-based; the slice starts at field 3).
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim();
  for (const child of children ? children.split(' ').map(Number) : []) {
    try {
      const c = statFields(child);
      ticks += Number(c[11]) + Number(c[12]);
    } catch {
      // Exited between the listing and the read: its CPU is in cutime by now.
    }
  }
  return ticks * TICK_MS;
}

async function main() {
  const server = await startEmbeddedPostgres();
  try {
    const url = await createDatabase(server, 'bench', { demoSchema: true });
    const target = (name: string): Target => ({
      name,
      url,
      tags: [],
      settings: { ...DEFAULT_TARGET_SETTINGS },
      thresholdOverrides: {},
      source: 'bench',
    });
    if (TABLES > 0) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(
        `DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
           EXECUTE format('CREATE TABLE bench_%s (id bigserial PRIMARY KEY, v text)', i);
         END LOOP; END $$`,
      );
      await admin.query('ANALYZE');
      await admin.end();
    }
    const probe = new TargetPools();
    const { rows } = await probe
      .readOnly(target('probe'))
      .query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const postmaster = Number(statFields(rows[0]!.pid)[1]);
    await probe.closeAll();

    // A scheduled target's pool, as the worker keeps it: both connections stay open.
    const warm2 = new TargetPools(undefined, { warmMs: () => 3600_000 });
    const warm2Pool = warm2.readOnly(target('warm-2'));
    // The same keeping one connection only (min 1): the second lane connects for each run.
    const warm1 = new TargetPools(undefined, { warmMs: () => 3600_000 });
    const warm1Pool = warm1.readOnly(target('warm-1'));
    warm1Pool.options.min = 1;
    const variants: Record<string, () => Promise<void>> = {
      cold: async () => {
        const pools = new TargetPools();
        try {
          await runHealthCheck(target('cold'), pools.readOnly(target('cold')));
        } finally {
          await pools.closeAll();
        }
      },
      'warm-1': async () => {
        await runHealthCheck(target('warm-1'), warm1Pool);
        // What the 10 s idle timeout does between two scheduled runs: all but the kept one go.
        await trimToMin(warm1Pool);
      },
      'warm-2': async () => {
        await runHealthCheck(target('warm-2'), warm2Pool);
        await trimToMin(warm2Pool);
      },
    };
    // Open the warm pools (and fill the server's shared caches) before anything is counted.
    for (const run of Object.values(variants)) await run();
    await trimToMin(warm1Pool);

    const cpu: Record<string, number[]> = { cold: [], 'warm-1': [], 'warm-2': [] };
    const wall: Record<string, number[]> = { cold: [], 'warm-1': [], 'warm-2': [] };
    const perRound = Math.ceil(RUNS / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, run] of Object.entries(variants)) {
        const before = serverCpuMs(postmaster);
        const started = performance.now();
        for (let i = 0; i < perRound; i++) await run();
        wall[name]!.push((performance.now() - started) / perRound);
        // A closed backend's CPU reaches cutime once the postmaster has reaped it.
        await new Promise((resolve) => setTimeout(resolve, 200));
        cpu[name]!.push((serverCpuMs(postmaster) - before) / perRound);
      }
    }
    await Promise.all([warm1.closeAll(), warm2.closeAll()]);

    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const mean = (values: number[]) => sum(values) / values.length;
    const anchor = mean(cpu.cold!);
    console.log(
      `server CPU per health run (${perRound * ROUNDS} runs per variant in ${ROUNDS} rounds, pool_max 2, ` +
        `demo schema + ${TABLES} tables; ` +
        `${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)} at the end)`,
    );
    for (const name of Object.keys(variants)) {
      const ms = mean(cpu[name]!);
      console.log(
        `  ${name.padEnd(7)} CPU ${ms.toFixed(1).padStart(6)} ms/run  (rounds ${cpu[name]!.map((v) => v.toFixed(0)).join(' / ')})  ` +
          `${(ms / anchor).toFixed(2)}× cold   wall p50 ${percentile(wall[name]!, 50).toFixed(0)} ms`,
      );
    }
    console.log(
      `  cold / warm-2: ${(anchor / mean(cpu['warm-2']!)).toFixed(2)}×   cold / warm-1: ${(anchor / mean(cpu['warm-1']!)).toFixed(2)}×`,
    );
  } finally {
    await server.stop();
  }
}

/** Closes a pool's idle connections above its min at once, as its idle timeout would later. */
async function trimToMin(pool: pg.Pool): Promise<void> {
  const internal = pool as pg.Pool & {
    _idle: Array<{ client: pg.PoolClient }>;
    _remove(c: unknown, cb?: () => void): void;
  };
  const min = pool.options.min ?? 0;
  const extra = internal._idle.slice(0, Math.max(0, internal._idle.length - min));
  await Promise.all(
    extra.map(({ client }) => new Promise<void>((resolve) => internal._remove(client, resolve))),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
