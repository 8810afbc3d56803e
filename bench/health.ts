/**
 * `npm run bench`: the full health check N times against a healthy demo database, and in
 * the same process the very same statements through one bare `pg` client. Prints p50/p95
 * of both and the ratio engine/bare: what the engine's safety (read-only transactions,
 * timeouts, per-check isolation) costs. Figures only; nothing here asserts.
 *
 * BENCH_RUNS (default 50), BENCH_DATABASE_URL (default: an embedded Postgres).
 */
import pg from 'pg';
import { createDatabase } from '../src/demo/demoDatabase.js';
import { runHealthCheck } from '../src/health/engine.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../src/store/embeddedPostgres.js';
import { TargetPools } from '../src/targets/pools.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from '../src/targets/target.js';
import { percentile } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const WARMUP = 5;

async function databaseUrl(): Promise<{ url: string; server?: EmbeddedServer }> {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL };
  const server = await startEmbeddedPostgres();
  return { url: await createDatabase(server, 'bench', { demoSchema: true }), server };
}

async function main() {
  const { url, server } = await databaseUrl();
  const target: Target = {
    name: 'bench',
    url,
    tags: [],
    settings: { ...DEFAULT_TARGET_SETTINGS },
    thresholdOverrides: {},
    source: 'bench',
  };
  // Like for like: the same engine on one connection, as sequential as the bare client.
  const serial: Target = { ...target, name: 'bench-serial', settings: { ...target.settings, poolMax: 1 } };
  const pools = new TargetPools();
  const pool = pools.readOnly(target);
  const serialPool = pools.readOnly(serial);
  const bare = new pg.Client({ connectionString: url });
  await bare.connect();
  try {
    const statements: Array<[string, unknown[]]> = [];
    const recorded = await runHealthCheck(target, pool, {
      onStatement: (sql, params) => statements.push([sql, params]),
    });
    const failed = recorded.findings.filter((f) => f.status === 'error');
    if (failed.length > 0)
      throw new Error(`checks failed: ${failed.map((f) => `${f.id}: ${f.summary}`).join('; ')}`);

    const engine: number[] = [];
    const engineSerial: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      let started = performance.now();
      await runHealthCheck(target, pool);
      const engineMs = performance.now() - started;
      started = performance.now();
      await runHealthCheck(serial, serialPool);
      const serialMs = performance.now() - started;
      started = performance.now();
      for (const [sql, params] of statements) await bare.query(sql, params);
      const bareMs = performance.now() - started;
      if (i >= WARMUP) {
        engine.push(engineMs);
        engineSerial.push(serialMs);
        baseline.push(bareMs);
      }
    }
    const p50 = percentile(engine, 50);
    const bareP50 = percentile(baseline, 50);
    const memory = process.memoryUsage();
    const ms = (value: number) => `${value.toFixed(1)} ms`;
    console.log(
      `health check: ${recorded.findings.length} checks, ${statements.length} statements, ${RUNS} runs (PostgreSQL ${recorded.serverVersion})`,
    );
    console.log(
      `engine (2 connections, read-only transactions): p50 ${ms(p50)}  p95 ${ms(percentile(engine, 95))}`,
    );
    console.log(
      `engine on 1 connection:                         p50 ${ms(percentile(engineSerial, 50))}  p95 ${ms(percentile(engineSerial, 95))}`,
    );
    console.log(
      `bare pg client (same SQL, 1 connection):        p50 ${ms(bareP50)}  p95 ${ms(percentile(baseline, 95))}`,
    );
    console.log(
      `ratio engine/bare (p50): ${(p50 / bareP50).toFixed(2)}; on 1 connection ${(percentile(engineSerial, 50) / bareP50).toFixed(2)}  (goal <= 1.3; full run p50 goal <= 250 ms)`,
    );
    console.log(
      `memory: rss ${(memory.rss / 1024 ** 2).toFixed(0)} MB, heap used ${(memory.heapUsed / 1024 ** 2).toFixed(0)} MB`,
    );
  } finally {
    await bare.end();
    await pools.closeAll();
    await server?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
