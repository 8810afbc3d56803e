import { parseArgs } from 'node:util';
import pc from 'picocolors';
import { loadDemoSettings } from '../config.js';
import { consolePost, consoleState } from '../console/consoleClient.js';
import { createLogger } from '../logger.js';
import { errorText } from '../redact.js';
import { armShutdownWatchdog, DEFAULT_SHUTDOWN_WATCHDOG_MS } from '../service/shutdownWatchdog.js';
import { type ConsoleDemo, startConsoleDemo } from './consoleDemo.js';
import { type DemoDatabases, startDemoDatabases } from './demoDatabases.js';

const CHECK_TIMEOUT_MS = 60_000;

/**
 * `npm run demo`: embedded Postgres with a faulty shop database, the bot in `all` mode, and
 * the local Slack console, until Ctrl-C. `npm run demo -- --check` starts the same, sends
 * `/runbook health` through the console as a person would, waits for the report, then
 * `/runbook health all` and waits for its summary with its reports linked, and exits.
 * `--socket-mode`: the bot connects to the console over Socket Mode instead of HTTP.
 */
async function main(): Promise<void> {
  let flags: { check?: boolean; 'socket-mode'?: boolean };
  try {
    flags = parseArgs({
      options: { check: { type: 'boolean' }, 'socket-mode': { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (err) {
    throw new Error(`${(err as Error).message}. Options: --check, --socket-mode.`);
  }
  const check = flags.check === true;
  const settings = loadDemoSettings({ check });
  const { consolePort } = settings;
  const say = (text: string) => process.stdout.write(`${text}\n`);
  say(
    pc.dim('Starting an embedded Postgres with a faulty shop database, the bot (all mode) and the console…'),
  );
  const logger = createLogger({ level: settings.logLevel, destination: process.stderr });
  const aborting = new AbortController();
  let databases: Promise<DemoDatabases> | undefined;
  const starting = startConsoleDemo({
    consolePort,
    logger,
    botEnv: settings.botEnv,
    socketMode: flags['socket-mode'] === true,
    databases: () => {
      databases = startDemoDatabases({ signal: aborting.signal });
      return databases;
    },
  });
  // One stop path, whenever the signal comes (the embedded server, in a process group of its
  // own, never sees the terminal's Ctrl-C itself).
  let demo: ConsoleDemo | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say(pc.dim('Stopping: bot, console, fault sessions, embedded Postgres.'));
    if (!demo) {
      // Start-up cut short: nothing is serving yet, so nothing waits to be stopped in order.
      // The databases go now (a server still starting is aborted and its folder removed); the
      // rest ends with the process, and what it fails to do meanwhile is expected, not news.
      logger.level = 'silent';
      // A connection of the half-started bot ended by the server's shutdown errors with no one
      // listening; the process is exiting anyway.
      process.on('uncaughtException', () => undefined);
      process.on('unhandledRejection', () => undefined);
      aborting.abort();
      const started = await databases?.catch(() => undefined);
      await started?.stop();
      process.exit(code);
    }
    // A stop that hangs still ends: exiting kills the embedded server and removes its folder.
    armShutdownWatchdog({
      ms: DEFAULT_SHUTDOWN_WATCHDOG_MS,
      logger,
      inFlight: () => demo?.service.inFlight(),
    });
    await demo.stop();
    process.exit(code);
  };
  // `on`, not `once`: a second Ctrl-C while stopping must not kill the process halfway.
  process.on('SIGINT', () => void stop(130));
  process.on('SIGTERM', () => void stop(143));
  process.on('SIGHUP', () => void stop(129));

  try {
    demo = await starting;
  } catch (err) {
    if (stopping) return;
    const inUse = (err as { code?: string }).code === 'EADDRINUSE';
    throw inUse ? new Error(`port ${consolePort} is in use: set CONSOLE_PORT to a free port.`) : err;
  }
  if (stopping) return;

  if (check) {
    // Stopped whatever the outcome: a failed check must not leave the embedded Postgres behind.
    let failure: unknown;
    try {
      say(`Report posted in #incidents: ${await healthReportThroughConsole(demo.console.url)}`);
      say(`Fleet summary posted in #incidents: ${await fleetSummaryThroughConsole(demo.console.url)}`);
    } catch (err) {
      failure = err;
      process.stderr.write(`demo failed: ${errorText(err)}\n`);
    }
    await stop(failure === undefined ? 0 : 1);
    return;
  }
  say('');
  say(`  Local Slack console: ${pc.bold(demo.console.url)}`);
  say('');
  say(
    `  In #incidents, as alice: ${pc.cyan('/runbook health')}, then ${pc.cyan('/runbook run 2-shopify-sync-queue-stuck')}`,
  );
  say(`  or ${pc.cyan('/incident declare P1 checkout errors')}; switch to bob ("Acting as") to approve.`);
  say('');
  for (const line of cliLines(demo)) say(line);
  say('');
  say(pc.dim('  Ctrl-C stops everything and removes the embedded database.'));
}

/** The demo's two databases and the CLI commands that read them, to paste into another terminal. */
function cliLines(demo: ConsoleDemo): string[] {
  return [
    '  The same databases from another terminal, while the demo runs:',
    `    export DATABASE_URL='${demo.stateUrl}'  ${pc.dim("# the bot's state")}`,
    `    export TARGET_DATABASE_URL='${demo.targetUrl}' TARGET_NAME=demo  ${pc.dim('# the faulty shop, named as in the console')}`,
    `    ${pc.cyan('npx runbook-bot health')}  ${pc.dim("# production thresholds, not the demo's lowered ones")}`,
    `    ${pc.cyan('npx runbook-bot history')}  ${pc.dim('# the runs started in the console')}`,
    `    ${pc.cyan('npx runbook-bot audit verify')}`,
    `    ${pc.cyan('npx runbook-bot report INC-1')}  ${pc.dim('# after /incident declare in the console')}`,
  ];
}

/** What a person does in the page, over the page's own endpoints: type the command, wait for the report. */
async function healthReportThroughConsole(url: string): Promise<string> {
  const user = 'U0ALICE';
  const channel = 'C0INCIDENTS';
  const sent = await consolePost(url, 'send', { user, channel, text: '/runbook health' });
  if (!sent.ok) throw new Error(`the console refused the command: ${sent.error}`);
  const deadline = Date.now() + CHECK_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const state = await consoleState(url, user);
    const report = state.messages.find(
      (message) =>
        message.channel === channel &&
        message.user === state.botUserId &&
        !message.ephemeral &&
        message.blocks,
    );
    if (report) return report.text;
    if (state.bot.lastError) throw new Error(state.bot.lastError);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no health report within ${CHECK_TIMEOUT_MS / 1000} s`);
}

/**
 * `/runbook health all`, then the summary once it is whole: a problem target's report in its
 * thread and the summary edited to link it (the demo target always has problems).
 */
async function fleetSummaryThroughConsole(url: string): Promise<string> {
  const user = 'U0ALICE';
  const channel = 'C0INCIDENTS';
  const sent = await consolePost(url, 'send', { user, channel, text: '/runbook health all' });
  if (!sent.ok) throw new Error(`the console refused the command: ${sent.error}`);
  const deadline = Date.now() + CHECK_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const state = await consoleState(url, user);
    const summary = state.messages.find(
      (message) =>
        message.channel === channel &&
        message.user === state.botUserId &&
        !message.ephemeral &&
        message.text.includes('Health of all targets'),
    );
    if (summary?.edited && (summary.replyCount ?? 0) > 0) return summary.text;
    if (state.bot.lastError) throw new Error(state.bot.lastError);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no fleet summary with its reports linked within ${CHECK_TIMEOUT_MS / 1000} s`);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${errorText(err)}\n`);
  process.exit(1);
});
