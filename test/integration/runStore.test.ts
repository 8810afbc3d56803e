import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HealthReport } from '../../src/health/types.js';
import { RunStore, SCHEDULER_REQUESTER, type StrandedRun } from '../../src/store/runs.js';
import { createStateDatabase, type StateDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');

const REPORT: HealthReport = {
  target: 'prod',
  status: 'warn',
  startedAt: '2026-11-24T10:00:00.000Z',
  durationMs: 42,
  serverVersion: '18.4',
  findings: [],
};

describe('runs sharing one health check', () => {
  let state: StateDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    state = await createStateDatabase(server!.url);
    pool = state.pool;
  });
  afterAll(() => state?.drop());

  it('store the report once, and a batch of them reads it back once', async () => {
    const writer = new RunStore(pool);
    const runs = await writer.createHealthRuns(
      Array.from({ length: 5 }, (_, i) => ({ target: 'prod', requestedBy: `U${i}`, channelId: `C${i}` })),
    );
    const ids = runs.map(({ run }) => run.id);
    await writer.saveReports(ids.slice(0, 3), REPORT);
    await writer.saveReports(ids.slice(3), REPORT);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM health_reports');
    expect(rows[0]!.n).toBe(1);

    // A fresh store (another process): its first batch read asks for the report once.
    const reads: string[] = [];
    const counted = new Proxy(pool, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver);
        return (text: string, values?: unknown[]) => {
          reads.push(text);
          return target.query(text, values);
        };
      },
    });
    const reader = new RunStore(counted);
    const read = await reader.getMany(ids);
    expect(read.map((run) => run.report)).toEqual(Array(5).fill(REPORT));
    expect(reads.filter((text) => text.includes('FROM health_reports'))).toHaveLength(1);
  });
});

describe('runs the queue lost, and reports two jobs want to post', () => {
  let state: StateDatabase;
  let pool: pg.Pool;
  let store: RunStore;
  beforeAll(async () => {
    state = await createStateDatabase(server!.url);
    pool = state.pool;
    store = new RunStore(pool);
  });
  afterAll(() => state?.drop());

  const record = async (fields: { requestedBy?: string; channelId?: string }, minutesAgo: number) => {
    const { run } = await store.createHealthRun({
      target: 'prod',
      requestedBy: fields.requestedBy ?? 'U1',
      ...fields,
    });
    await age(run.id, minutesAgo);
    return run.id;
  };
  /** Time passes for the run: every moment it recorded moves back by `minutes`. */
  const age = (id: string, minutes: number) =>
    pool.query(
      `UPDATE runs SET created_at = created_at - make_interval(mins => $2),
              started_at = started_at - make_interval(mins => $2),
              finished_at = finished_at - make_interval(mins => $2),
              requeued_at = requeued_at - make_interval(mins => $2)
        WHERE id = $1`,
      [id, minutes],
    );
  const queued: string[][] = [];
  const sweep = (enqueue = async (runs: StrandedRun[]) => void queued.push(runs.map((run) => run.id))) =>
    store.requeueStranded({ quietSeconds: 120, windowSeconds: 86_400, limit: 100 }, enqueue);

  it('hands over runs asked for in Slack and still unposted after the quiet period, and no others', async () => {
    const lost = await record({ channelId: 'C1' }, 10);
    const unposted = await record({ channelId: 'C1' }, 0);
    await store.saveReports([unposted], REPORT);
    await age(unposted, 10);
    const posted = await record({ channelId: 'C1' }, 0);
    await store.saveReports([posted], REPORT);
    await store.markPosted(posted, '1700000000.000100');
    await age(posted, 10);
    const failed = await record({ channelId: 'C1' }, 0);
    await store.markFailed([failed], 'queue unavailable'); // the person was told at once
    await age(failed, 10);
    await record({}, 10); // from the CLI: nowhere to post
    await record({ channelId: 'C1', requestedBy: SCHEDULER_REQUESTER }, 10); // posted by its own job
    await record({ channelId: 'C1' }, 1); // its job may simply not have run yet
    await record({ channelId: 'C1' }, 2 * 24 * 60); // too old to be worth posting
    const finishedLate = await record({ channelId: 'C1' }, 10);
    await store.saveReports([finishedLate], REPORT); // slow, not lost: its report job is due

    // A sweep whose jobs could not be queued marks nothing: the runs keep their place.
    await expect(sweep(async () => Promise.reject(new Error('queue down')))).rejects.toThrow('queue down');
    const first = await sweep();
    expect(first.map((run) => [run.id, run.status, run.requeueCount]).sort()).toEqual(
      [
        [lost, 'queued', 1],
        [unposted, 'done', 1],
      ].sort(),
    );
    expect(queued.at(-1)?.sort()).toEqual([lost, unposted].sort());
    // Queued again: not again until twice the quiet period has passed since.
    expect(await sweep()).toEqual([]);
    await age(lost, 3);
    expect(await sweep()).toEqual([]);
    await age(lost, 2);
    expect(await sweep()).toEqual([{ id: lost, target: 'prod', status: 'queued', requeueCount: 2 }]);
  });

  it('holds no lock on the runs while it queues them', async () => {
    const lost = await record({ channelId: 'C2' }, 10);
    const requeued = await sweep(async (runs) => {
      // Anyone else may write these runs meanwhile (a report job recording its post, say).
      const other = await pool.connect();
      try {
        await other.query('BEGIN');
        await other.query('SELECT 1 FROM runs WHERE id = ANY($1::uuid[]) FOR UPDATE NOWAIT', [
          runs.map((run) => run.id),
        ]);
        await other.query('ROLLBACK');
      } finally {
        other.release();
      }
    });
    expect(requeued.map((run) => run.id)).toContain(lost);
  });

  it('lets one job post a report at a time, and only that job give it back', async () => {
    const id = await record({ channelId: 'C1' }, 0);
    expect(await store.leaseForPosting([id], 60)).toMatchObject({ leased: [], busy: 0 });
    await store.saveReports([id], REPORT);

    const first = await store.leaseForPosting([id], 60);
    expect(first.leased.map((run) => [run.id, run.report])).toEqual([[id, REPORT]]);
    expect(first.busy).toBe(0);
    const second = await store.leaseForPosting([id], 60);
    expect(second).toMatchObject({ leased: [], busy: 1 });
    // Leased runs are not stranded, however old.
    await age(id, 10);
    expect((await sweep()).map((run) => run.id)).not.toContain(id);
    // Only the holder gives it back.
    await store.releasePosting(second.lease, [id]);
    expect(await store.leaseForPosting([id], 60)).toMatchObject({ leased: [], busy: 1 });
    await store.releasePosting(first.lease, [id]);

    const again = await store.leaseForPosting([id], 60);
    expect(again.leased.map((run) => run.id)).toEqual([id]);
    await store.markPostedMany([{ id, ts: '1700000000.000200' }]);
    expect(await store.leaseForPosting([id], 60)).toMatchObject({ leased: [], busy: 0 });
  });

  it('never replaces the report of a finished run (a second check of a slow run)', async () => {
    const id = await record({ channelId: 'C1' }, 0);
    await store.saveReports([id], REPORT);
    await store.saveReports([id], { ...REPORT, status: 'critical' });
    expect((await store.get(id))?.report).toEqual(REPORT);
  });
});
