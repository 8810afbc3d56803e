import { App, HTTPReceiver } from '@slack/bolt';
import { HealthRunStarter } from '../health/healthRunStarter.js';
import type { OpsRoute } from '../http/opsRoutes.js';
import type { ListenerDeps } from './listeners/deps.js';
import { LISTENED, registerListeners } from './listeners/index.js';
import { guardEvents, guardHttpReceiver } from './requestGuard.js';
import { slackLogger } from './slackLogger.js';
import { webClientOptions } from './webClientOptions.js';

export interface SlackSettings {
  botToken: string;
  signingSecret: string;
  /** Socket Mode (local development) when set. */
  appToken?: string;
  /** Web API base, e.g. a proxy or GovSlack; default https://slack.com/api/. */
  apiUrl?: string;
}

export interface SlackAppDeps extends Omit<ListenerDeps, 'healthRuns'> {
  slack: SlackSettings;
  routes: OpsRoute[];
}

const SLACK_ENDPOINT = '/slack/events';

/**
 * The Bolt app: validates, authorizes, records and enqueues, then acknowledges, all well
 * inside Slack's 3 seconds. Workers do the database work and post the results. The
 * listeners are in listeners/, by kind; this file only builds the app around them.
 */
export function createSlackApp(deps: SlackAppDeps): App {
  const logger = slackLogger(deps.logger, 'bolt');
  const clientOptions = webClientOptions(deps.slack.apiUrl, deps.logger);
  // Commands and buttons need only the bot token. Bolt's default authorization would call
  // auth.test on the first request, so a Slack hiccup at that moment would fail a command.
  const authorize = async () => ({ botToken: deps.slack.botToken });
  // Every request passes through each global middleware and each listener's chain, on the
  // ack path. The bot keeps no conversation state and subscribes to no events (so it can
  // never receive its own), so Bolt's conversation store and self-filter are left out.
  const common = { authorize, logger, clientOptions, convoStore: false as const, ignoreSelf: false };
  const receiver = deps.slack.appToken
    ? undefined
    : new HTTPReceiver({
        signingSecret: deps.slack.signingSecret,
        endpoints: SLACK_ENDPOINT,
        customRoutes: deps.routes,
        processBeforeResponse: false,
        // guardHttpReceiver, installed below, verifies the signature of every request Bolt
        // takes as an event, before Bolt sees it; Bolt's verification would do it again.
        signatureVerification: false,
        logger,
      });
  const app = receiver
    ? new App({ ...common, receiver })
    : new App({ ...common, appToken: deps.slack.appToken, socketMode: true });
  // Bodies Bolt would crash on or never acknowledge are answered before it sees them.
  const guardLogger = deps.logger.child({ component: 'slack-guard' });
  // Over HTTP the receiver's guard has checked the body already; Socket Mode deliveries do not
  // pass it, so they are checked as events instead (once per request, not twice).
  if (receiver)
    guardHttpReceiver(receiver, {
      signingSecret: deps.slack.signingSecret,
      endpoint: SLACK_ENDPOINT,
      listened: LISTENED,
      logger: guardLogger,
    });
  else guardEvents(app, LISTENED, guardLogger);

  registerListeners(app, {
    ...deps,
    healthRuns: new HealthRunStarter(deps.runs, deps.queues, deps.logger, deps.workers),
  });
  app.error(async (err) => {
    deps.logger.error({ err }, 'unhandled error in a Slack listener');
  });
  return app;
}
