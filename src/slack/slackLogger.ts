import { LogLevel, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from '../logger.js';

/**
 * The Slack SDK's logger interface (Bolt and the Web API client share it) on top of our
 * redacting pino logger: without it, the SDK writes plain text to the console, outside the
 * JSON log stream and its redaction.
 */
export function slackLogger(logger: Logger, name: string): SlackLogger {
  let child = logger.child({ component: name });
  return {
    debug: (...msg: unknown[]) => child.debug(msg.map(String).join(' ')),
    info: (...msg: unknown[]) => child.info(msg.map(String).join(' ')),
    warn: (...msg: unknown[]) => child.warn(msg.map(String).join(' ')),
    error: (...msg: unknown[]) => child.error(msg.map(String).join(' ')),
    setLevel: (level: LogLevel) => {
      child.level = level;
    },
    getLevel: () => (child.level as LogLevel) ?? LogLevel.INFO,
    setName: (newName: string) => {
      child = logger.child({ component: newName });
    },
  };
}
