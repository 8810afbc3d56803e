import type { IncomingMessage } from 'node:http';

/** The request's path, or undefined when its URL cannot be parsed (`GET //a:b`, say). */
export function requestPath(req: IncomingMessage): string | undefined {
  try {
    return new URL(req.url ?? '/', 'http://console').pathname;
  } catch {
    return undefined;
  }
}
