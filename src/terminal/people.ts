import { SLACK_USER_ID } from '../audit/describe.js';
import { loadTerminalSettings } from '../config.js';
import { createLogger } from '../logger.js';
import type { CliIo } from './cliIo.js';

/**
 * Display names of the Slack users among `ids`, looked up as the bot's report does
 * (users.info) when SLACK_BOT_TOKEN is set; without it, or for a user Slack cannot describe,
 * none, and the caller shows the id.
 */
export async function peopleNames(io: CliIo, ids: string[]): Promise<Record<string, string>> {
  const { slack } = loadTerminalSettings(io.env);
  const users = ids.filter((id) => SLACK_USER_ID.test(id));
  if (!slack || users.length === 0) return {};
  // Loaded only when names are looked up: most commands never talk to Slack.
  const [{ WebClient }, { webClientOptions }, { slackDisplayNames }] = await Promise.all([
    import('@slack/web-api'),
    import('../slack/webClientOptions.js'),
    import('../slack/userNames.js'),
  ]);
  const logger = createLogger({ level: 'silent', destination: process.stderr });
  return slackDisplayNames(new WebClient(slack.botToken, webClientOptions(slack.apiUrl, logger)), users);
}
