import pg from 'pg';

/**
 * Loaded (`--import`) into a child process by test/integration/oneQueryAtATime.test.ts:
 * writes to stderr every query sent on a pg client while another is still in flight on it.
 * pg deprecates that pattern (pg@9 removes it), but warns only once per process and only
 * from the third query in flight, so the warning alone would miss the second one and every
 * later occurrence. The check reads pg's own queue, as its warning does.
 */
type ClientInternals = { _activeQuery?: unknown; _queryQueue?: unknown[]; pipeline?: boolean };

const query = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client & ClientInternals, ...args: unknown[]) {
  if (!Array.isArray(this._queryQueue))
    throw new Error('pg.Client has no _queryQueue: update test/support/overlappingQueries.ts for this pg');
  if (!this.pipeline && (this._activeQuery || this._queryQueue.length > 0)) {
    const [config] = args;
    const text =
      typeof config === 'string' ? config : ((config as { text?: string })?.text ?? 'a submittable');
    process.stderr.write(
      `query sent while another is in flight: ${text.slice(0, 80)}\n${new Error().stack}\n`,
    );
  }
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;
