import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

export interface OpsRoute {
  path: string;
  method: string[];
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface OpsDeps {
  metrics: Metrics;
  /** Throws when a dependency the process needs (state DB, queue) is unreachable. */
  readiness: () => Promise<void>;
  /** Refreshes gauges read on scrape (queue depth). */
  beforeScrape?: () => Promise<void>;
  logger: Logger;
}

/** /healthz (the process answers), /readyz (its dependencies answer), /metrics (Prometheus). */
export function opsRoutes(deps: OpsDeps): OpsRoute[] {
  const send = (res: ServerResponse, status: number, body: string, type = 'text/plain') => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  };
  return [
    { path: '/healthz', method: ['GET'], handler: (_req, res) => send(res, 200, 'ok\n') },
    {
      path: '/readyz',
      method: ['GET'],
      handler: (_req, res) => {
        deps.readiness().then(
          () => send(res, 200, 'ready\n'),
          (err: unknown) => send(res, 503, `not ready: ${(err as Error).message ?? String(err)}\n`),
        );
      },
    },
    {
      path: '/metrics',
      method: ['GET'],
      handler: (_req, res) => {
        (deps.beforeScrape?.() ?? Promise.resolve())
          .catch((err: unknown) => deps.logger.debug({ err }, 'metrics refresh failed'))
          .then(() => deps.metrics.registry.metrics())
          .then((body) => send(res, 200, body, deps.metrics.registry.contentType))
          .catch(() => send(res, 500, 'metrics unavailable\n'));
      },
    },
  ];
}

/** Serves the ops routes on their own port (worker mode and Socket Mode have no HTTP receiver). */
export async function serveOpsRoutes(
  routes: OpsRoute[],
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const route = routes.find(
      (candidate) => candidate.path === req.url?.split('?')[0] && candidate.method.includes(req.method ?? ''),
    );
    if (route) route.handler(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
