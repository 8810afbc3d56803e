import pino, { type Logger, type LoggerOptions } from 'pino';
import { redactText, redactValue } from './redact.js';

export type { Logger };

/**
 * pino with secrets scrubbed from every line: the message text, the merged object and any
 * serialized error. Redaction by path alone is not enough because drivers put connection
 * strings inside error messages.
 */
export function createLogger(
  options: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
) {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    name: options.name ?? 'runbook-bot',
    formatters: {
      log: (object) => redactValue(object) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<typeof method>,
        );
      },
    },
    serializers: {
      err: (err: unknown) => redactValue(err),
    },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
