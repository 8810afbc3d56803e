import pg from 'pg';

/**
 * Reports every query sent on a pg client while another is still in flight on it, until the
 * returned function is called. pg deprecates that pattern (pg@9 removes it) but warns only
 * once per process and only from the third query in flight, so its warning alone misses the
 * second one and every later occurrence. The check reads pg's own queue, as its warning does.
 */
type ClientInternals = { _activeQuery?: unknown; _queryQueue?: unknown[]; pipeline?: boolean };

export function watchOverlappingQueries(report: (text: string) => void): () => void {
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client & ClientInternals, ...args: unknown[]) {
    if (!Array.isArray(this._queryQueue))
      throw new Error('pg.Client has no _queryQueue: update test/support/overlappingQueries.ts for this pg');
    if (!this.pipeline && (this._activeQuery || this._queryQueue.length > 0)) {
      const [config] = args;
      const text =
        typeof config === 'string' ? config : ((config as { text?: string })?.text ?? 'a submittable');
      report(`query sent while another is in flight: ${text.slice(0, 80)}\n${new Error().stack}\n`);
    }
    return (query as (...all: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  return () => {
    pg.Client.prototype.query = query;
  };
}
