import { randomBytes } from 'node:crypto';
import { type DemoSettings, loadServiceConfig } from '../config.js';
import { type RunningConsole, startConsole } from '../console/consoleServer.js';
import type { Logger } from '../logger.js';
import { type RunningService, startService } from '../service.js';
import { type DemoDatabases, startDemoDatabases } from './demoDatabases.js';
import { demoThresholdList } from './demoTarget.js';

export interface ConsoleDemoOptions {
  /** Port of the console page and its Web API; 0 picks a free one. */
  consolePort: number;
  logger: Logger;
  /**
   * Variables for the demo's bot: what the person running the demo passed on (loadDemoSettings
   * picks those); tests may add a TARGETS_FILE, whose targets replace the demo target.
   */
  botEnv?: DemoSettings['botEnv'] & NodeJS.ProcessEnv;
  /** Where the state and shop databases come from (tests use their own server). */
  databases?: () => Promise<DemoDatabases>;
  /** The bot connects over Socket Mode (SLACK_APP_TOKEN) instead of taking HTTP requests. */
  socketMode?: boolean;
}

export interface ConsoleDemo {
  console: RunningConsole;
  service: RunningService;
  /** The bot's state database, for the CLI's DATABASE_URL. */
  stateUrl: string;
  /** The faulty shop database (target `demo`), for the CLI's TARGET_DATABASE_URL. */
  targetUrl: string;
  stop(): Promise<void>;
}

/**
 * The whole product on one machine with no Slack: the console stands in for Slack (the bot
 * reaches it through SLACK_API_URL, and it signs what people do as Slack does), and the bot
 * runs in `all` mode, unchanged, on embedded Postgres with a faulty demo target.
 */
export async function startConsoleDemo(options: ConsoleDemoOptions): Promise<ConsoleDemo> {
  const botToken = `xoxb-console-${randomBytes(12).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  const appToken = `xapp-console-${randomBytes(12).toString('hex')}`;
  const slack = await startConsole({
    port: options.consolePort,
    botToken,
    signingSecret,
    ...(options.socketMode ? { appToken } : {}),
    note: `Target "demo" has lowered thresholds, so faults seconds old show (production defaults are minutes): ${demoThresholdList()}.`,
  });
  try {
    const config = loadServiceConfig(
      {
        ...options.botEnv,
        SLACK_BOT_TOKEN: botToken,
        ...(options.socketMode ? { SLACK_APP_TOKEN: appToken } : { SLACK_SIGNING_SECRET: signingSecret }),
        SLACK_API_URL: slack.apiUrl,
        PORT: '0',
      },
      { mode: 'all' },
    );
    let databases: DemoDatabases | undefined;
    const service = await startService({
      mode: 'all',
      config,
      logger: options.logger,
      embedded: async () => {
        databases = await (options.databases ?? startDemoDatabases)();
        return { url: databases.stateUrl, demoTarget: databases.demoTarget, stop: databases.stop };
      },
    });
    if (!databases) {
      await service.stop();
      throw new Error('the demo runs on its own databases: DATABASE_URL is not passed on to its bot');
    }
    if (!options.socketMode) slack.setBotUrl(`http://127.0.0.1:${service.port}/slack/events`);
    return {
      console: slack,
      service,
      stateUrl: databases.stateUrl,
      targetUrl: databases.demoTarget.url,
      stop: async () => {
        await service.stop();
        await slack.close();
      },
    };
  } catch (err) {
    await slack.close();
    throw err;
  }
}
