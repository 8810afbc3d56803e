import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from '../logger.js';

/** Bolt's logger interface on top of our (redacting) pino logger. */
export function boltLogger(logger: Logger): BoltLogger {
  let name = 'bolt';
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
      name = newName;
      child = logger.child({ component: name });
    },
  };
}
