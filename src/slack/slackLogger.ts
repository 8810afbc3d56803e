import { LogLevel, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from '../logger.js';

/**
 * The Slack SDK's logger interface (Bolt and the Web API client share it) on top of our
 * redacting pino logger: without it, the SDK writes plain text to the console, outside the
 * JSON log stream and its redaction.
 */
export function slackLogger(logger: Logger, name: string): SlackLogger {
  let child = logger.child({ component: name });
  // The first argument is the message; the SDK passes more at times (a failed request's
  // error, or forEach's index and array), kept apart so the message stays searchable.
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...msg: unknown[]) => {
      const [first, ...rest] = msg;
      if (rest.length === 0) child[level](String(first));
      else child[level]({ args: rest.map(String) }, String(first));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    setLevel: (level: LogLevel) => {
      child.level = level;
    },
    getLevel: () => (child.level as LogLevel) ?? LogLevel.INFO,
    setName: (newName: string) => {
      child = logger.child({ component: newName });
    },
  };
}
