import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { HealthReport } from '../health/types.js';

export type RunStatus = 'queued' | 'running' | 'done' | 'failed';

export interface Run {
  id: string;
  kind: 'health';
  target: string;
  requestedBy: string;
  channelId: string | null;
  responseUrl: string | null;
  status: RunStatus;
  error: string | null;
  report: HealthReport | null;
  reportStatus: string | null;
  postedTs: string | null;
  createdAt: Date;
}

/** Who the health scheduler's runs name as requester; they are posted by their own job. */
export const SCHEDULER_REQUESTER = 'scheduler';

/** A run the recovery sweep is queueing again, and how many times it has been. */
export interface StrandedRun {
  id: string;
  target: string;
  status: RunStatus;
  requeueCount: number;
}

/** A fleet run as recorded for the sweep: its runs, where its summary goes, what it was asked for. */
export interface FleetRecord {
  runIds: string[];
  channel: string;
  label: string;
}

/** A fleet the recovery sweep is queueing again: its job if a run is unfinished, else its summary. */
export interface StrandedFleet extends FleetRecord {
  finished: boolean;
  requeueCount: number;
}

/** Reports a job has taken for posting (see RunStore.leaseForPosting). */
export interface PostingLease {
  lease: string;
  leased: Run[];
  /** Reports among those asked for that another job is posting right now. */
  busy: number;
}

export interface NewHealthRun {
  target: string;
  requestedBy: string;
  channelId?: string;
  responseUrl?: string;
  /** Same key, same run: Slack retries and double submissions do not create another. */
  idempotencyKey?: string;
  /**
   * Where it was asked for, when its report is posted elsewhere or not at all (a fleet's
   * target runs have no channel of their own): an open incident there takes the run in.
   */
  askedInChannel?: string;
}

interface RunRow {
  id: string;
  idempotency_key: string | null;
  kind: 'health';
  target: string;
  requested_by: string;
  channel_id: string | null;
  response_url: string | null;
  status: RunStatus;
  error: string | null;
  report_id: string | null;
  report_status: string | null;
  posted_ts: string | null;
  created_at: Date;
}

const COLUMNS =
  'id, idempotency_key, kind, target, requested_by, channel_id, response_url, status, error, report_id, report_status, posted_ts, created_at';

/** Reports are immutable once stored; the few most recent are kept parsed for the notifier. */
const CACHED_REPORTS = 32;

function toRun(row: RunRow, report: HealthReport | null): Run {
  return {
    id: row.id,
    kind: row.kind,
    target: row.target,
    requestedBy: row.requested_by,
    channelId: row.channel_id,
    responseUrl: row.response_url,
    status: row.status,
    error: row.error,
    report,
    reportStatus: row.report_status,
    postedTs: row.posted_ts,
    createdAt: row.created_at,
  };
}

/**
 * Runs and their reports in the state database: the durable record behind every report.
 * Runs that shared one health check (see Coalescer) share one stored report.
 */
export class RunStore {
  /** The stored id of each report object this process saved: shared runs point at one row. */
  private readonly storedReports = new WeakMap<HealthReport, Promise<string>>();
  private readonly reportCache = new Map<string, Promise<HealthReport | null>>();

  constructor(private readonly db: pg.Pool) {}

  /** Creates the run, or returns the one already created for the same idempotency key. */
  async createHealthRun(input: NewHealthRun): Promise<{ run: Run; created: boolean }> {
    const [result] = await this.createHealthRuns([input]);
    return result!;
  }

  /**
   * Creates many runs in one statement (one commit), answering in input order. A key already
   * used, earlier or within the same batch, answers with the run that holds it.
   */
  async createHealthRuns(inputs: NewHealthRun[]): Promise<{ run: Run; created: boolean }[]> {
    // Ids are chosen here, so the inserted rows can be matched back to their inputs.
    const ids = inputs.map(() => randomUUID());
    const column = <K extends keyof NewHealthRun>(key: K) => inputs.map((input) => input[key] ?? null);
    // A check run in an open incident's channel is part of it: its findings are in the report.
    const { rows: inserted } = await this.db.query<RunRow>(
      `WITH open_incident AS (
              SELECT DISTINCT ON (coalesce(channel_id, origin_channel)) coalesce(channel_id, origin_channel) AS channel, id
                FROM incidents WHERE status = 'open' ORDER BY coalesce(channel_id, origin_channel), declared_at DESC)
       INSERT INTO runs (id, kind, target, requested_by, channel_id, response_url, idempotency_key, incident_id)
       SELECT r.id, 'health', r.target, r.requested_by, r.channel_id, r.response_url, r.idempotency_key, open_incident.id
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
              AS r(id, target, requested_by, channel_id, response_url, idempotency_key, asked_in)
         LEFT JOIN open_incident ON open_incident.channel = coalesce(r.channel_id, r.asked_in)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        ids,
        column('target'),
        column('requestedBy'),
        column('channelId'),
        column('responseUrl'),
        column('idempotencyKey'),
        column('askedInChannel'),
      ],
    );
    const created = new Map(inserted.map((row) => [row.id, row]));
    const missingKeys = inputs.flatMap((input, i) =>
      !created.has(ids[i]!) && input.idempotencyKey ? [input.idempotencyKey] : [],
    );
    const { rows: existing } =
      missingKeys.length > 0
        ? await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM runs WHERE idempotency_key = ANY($1::text[])`, [
            missingKeys,
          ])
        : { rows: [] };
    const byKey = new Map(existing.map((row) => [row.idempotency_key, row]));
    return inputs.map((input, i) => {
      const row = created.get(ids[i]!);
      if (row) return { run: toRun(row, null), created: true };
      const holder = byKey.get(input.idempotencyKey ?? null);
      if (!holder) throw new Error(`run for ${input.idempotencyKey} was neither created nor found`);
      // Callers of a repeated request want the run's state, not its report.
      return { run: toRun(holder, null), created: false };
    });
  }

  async get(id: string): Promise<Run | undefined> {
    const { rows } = await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id = $1`, [id]);
    const [run] = await this.withReports(rows);
    return run;
  }

  /** Several runs in one query, in no particular order; missing ids are left out. */
  async getMany(ids: string[]): Promise<Run[]> {
    const { rows } = await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id = ANY($1::uuid[])`, [
      ids,
    ]);
    return this.withReports(rows);
  }

  private withReports(rows: RunRow[]): Promise<Run[]> {
    const reports = this.reports(rows.flatMap((row) => (row.report_id ? [row.report_id] : [])));
    return Promise.all(
      rows.map(async (row) => toRun(row, row.report_id ? await reports.get(row.report_id)! : null)),
    );
  }

  /**
   * The reports with these ids: those not cached in one statement. The cache holds each read
   * while it is in flight, so runs of a batch asking at once share one read per report.
   */
  private reports(ids: string[]): Map<string, Promise<HealthReport | null>> {
    const found = new Map<string, Promise<HealthReport | null>>();
    const missing = [...new Set(ids)].filter((id) => {
      const cached = this.reportCache.get(id);
      if (cached) found.set(id, cached);
      return !cached;
    });
    if (missing.length === 0) return found;
    const read = this.db
      .query<{ id: string; report: HealthReport }>(
        'SELECT id, report FROM health_reports WHERE id = ANY($1)',
        [missing],
      )
      .then(({ rows }) => new Map(rows.map((row) => [row.id, row.report])));
    for (const id of missing) {
      const report = read.then((reports) => reports.get(id) ?? null);
      this.remember(id, report);
      found.set(id, report);
      // A failed or empty read is not remembered: the next caller asks again.
      report.then(
        (value) => value ?? this.reportCache.delete(id),
        () => this.reportCache.delete(id),
      );
    }
    return found;
  }

  private remember(reportId: string, report: Promise<HealthReport | null>): void {
    this.reportCache.set(reportId, report);
    if (this.reportCache.size > CACHED_REPORTS)
      this.reportCache.delete(this.reportCache.keys().next().value!);
  }

  /**
   * Marks the runs running (those not finished yet) and answers each run's target and state,
   * in one statement: what a health job needs before it checks anything. `resumed`: a job
   * claimed the run before this one (started_at was set in an earlier transaction, so it is
   * before this statement's now()): a retry, or a stalled job taken over after a crash.
   */
  async claim(
    ids: string[],
  ): Promise<Array<{ id: string; target: string; status: RunStatus; resumed: boolean }>> {
    const { rows } = await this.db.query<{ id: string; target: string; status: RunStatus; resumed: boolean }>(
      `UPDATE runs SET status = CASE WHEN status IN ('done', 'failed') THEN status ELSE 'running' END,
              started_at = coalesce(started_at, now())
        WHERE id = ANY($1::uuid[])
        RETURNING id, target, status, started_at < now() AS resumed`,
      [ids],
    );
    return rows;
  }

  /**
   * Records the run's report before anything is posted. The report and its findings are
   * written once per report object, however many runs shared the check that made it; the
   * run then points at it (one statement, so a run is done with its report or not at all).
   */
  async saveReport(id: string, report: HealthReport): Promise<void> {
    await this.saveReports([id], report);
  }

  /** saveReport for runs that shared one check: one row for the report, one statement for the runs. */
  async saveReports(ids: string[], report: HealthReport): Promise<void> {
    let stored = this.storedReports.get(report);
    if (!stored) {
      stored = this.insertReport(report);
      this.storedReports.set(report, stored);
      // A failed insert is retried by the next run that shares the report, not remembered.
      stored.catch(() => this.storedReports.delete(report));
    }
    const reportId = await stored;
    await this.db.query(
      // Never over a finished run: a second check of the same run (the recovery sweep's, of a
      // run that was only slow) must not replace the report that was posted.
      `UPDATE runs SET status = 'done', report_id = $2, report_status = $3, finished_at = now(), error = NULL
        WHERE id = ANY($1::uuid[]) AND status NOT IN ('done', 'failed')`,
      [ids, reportId, report.status],
    );
  }

  private async insertReport(report: HealthReport): Promise<string> {
    const reportId = randomUUID();
    const json = JSON.stringify(report);
    await this.db.query(
      `WITH stored AS (
         INSERT INTO health_reports (id, target, status, report) VALUES ($1, $2, $3, $4) RETURNING id
       )
       INSERT INTO report_findings (report_id, check_id, status, summary)
       SELECT stored.id, f.id, f.status, f.summary
         FROM stored, jsonb_to_recordset($4::jsonb -> 'findings') AS f(id text, status text, summary text)`,
      [reportId, report.target, report.status, json],
    );
    // Cached as it reads back from the database (dates as strings), not the live object.
    this.remember(reportId, Promise.resolve(JSON.parse(json)));
    return reportId;
  }

  async markFailed(ids: string[], error: string): Promise<void> {
    await this.db.query(
      `UPDATE runs SET status = 'failed', error = $2, finished_at = now() WHERE id = ANY($1::uuid[])`,
      [ids, error],
    );
  }

  /**
   * Takes the runs' reports for posting, for `seconds`: those finished, with a channel, not
   * posted, and not taken by another job. Answers them (with their reports), the lease to
   * give back what is not posted, and how many of the others another job holds right now.
   */
  async leaseForPosting(ids: string[], seconds: number): Promise<PostingLease> {
    const lease = randomUUID();
    const { rows } = await this.db.query<RunRow>(
      `UPDATE runs SET posting_by = $2, posting_until = now() + make_interval(secs => $3)
        WHERE id = ANY($1::uuid[]) AND posted_ts IS NULL AND channel_id IS NOT NULL
          AND status IN ('done', 'failed') AND (posting_until IS NULL OR posting_until < now())
        RETURNING ${COLUMNS}`,
      [ids, lease, seconds],
    );
    return { lease, leased: await this.withReports(rows), busy: await this.heldElsewhere(ids, rows, lease) };
  }

  /**
   * How many of `ids` another job's lease holds. Only asked when some were not taken (the
   * common case takes them all), and in a statement of its own, after the lease: it sees
   * leases that other jobs committed while this one waited on their rows.
   */
  private async heldElsewhere(ids: string[], taken: RunRow[], lease: string): Promise<number> {
    if (taken.length === new Set(ids).size) return 0;
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM runs
        WHERE id = ANY($1::uuid[]) AND posted_ts IS NULL AND posting_until >= now() AND posting_by <> $2`,
      [ids, lease],
    );
    return rows[0]?.n ?? 0;
  }

  /** Gives back runs taken under `lease` that were not posted, for the next try. */
  async releasePosting(lease: string, ids: string[]): Promise<void> {
    await this.db.query(
      `UPDATE runs SET posting_by = NULL, posting_until = NULL
        WHERE id = ANY($1::uuid[]) AND posting_by = $2 AND posted_ts IS NULL`,
      [ids, lease],
    );
  }

  /**
   * Hands `enqueue` the runs people asked for in Slack that are still unposted `quietSeconds`
   * after anything last happened to them (recorded, started, finished, queued again; the
   * wait doubling with each requeue), within `windowSeconds` of being recorded, and not being
   * posted right now: their job was lost or gave up. They are marked queued again in one
   * statement (concurrent sweeps take different runs), and the mark is taken back if
   * `enqueue` fails: no row stays locked while the queue is asked.
   */
  async requeueStranded(
    options: { quietSeconds: number; windowSeconds: number; limit: number },
    enqueue: (runs: StrandedRun[]) => Promise<void>,
  ): Promise<StrandedRun[]> {
    const { rows } = await this.db.query<{
      id: string;
      target: string;
      status: RunStatus;
      requeue_count: number;
      previous_requeued_at: Date | null;
    }>(
      `WITH stranded AS (
         SELECT id, requeued_at FROM runs
          WHERE posted_ts IS NULL AND channel_id IS NOT NULL AND status <> 'failed'
            AND requested_by <> $4
            AND created_at > now() - make_interval(secs => $2)
            AND greatest(created_at, started_at, finished_at, requeued_at)
                < now() - make_interval(secs => $1 * 2 ^ requeue_count)
            AND (posting_until IS NULL OR posting_until < now())
          ORDER BY created_at
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       )
       UPDATE runs SET requeued_at = now(), requeue_count = runs.requeue_count + 1
         FROM stranded WHERE runs.id = stranded.id
       RETURNING runs.id, runs.target, runs.status, runs.requeue_count,
                 stranded.requeued_at AS previous_requeued_at`,
      [options.quietSeconds, options.windowSeconds, options.limit, SCHEDULER_REQUESTER],
    );
    const stranded = rows.map((row) => ({
      id: row.id,
      target: row.target,
      status: row.status,
      requeueCount: row.requeue_count,
    }));
    if (stranded.length === 0) return stranded;
    try {
      await enqueue(stranded);
    } catch (err) {
      // Not queued: they wait for the next sweep as if this one had not happened (unless
      // something else happened to them meanwhile).
      await this.db
        .query(
          `UPDATE runs SET requeued_at = p.previous, requeue_count = runs.requeue_count - 1
             FROM unnest($1::uuid[], $2::timestamptz[], $3::int[]) AS p(id, previous, count)
            WHERE runs.id = p.id AND runs.requeue_count = p.count`,
          [
            rows.map((row) => row.id),
            rows.map((row) => row.previous_requeued_at),
            rows.map((row) => row.requeue_count),
          ],
        )
        .catch(() => undefined);
      throw err;
    }
    return stranded;
  }

  /** Records the Slack message of the report; false when another notifier got there first. */
  async markPosted(id: string, ts: string): Promise<boolean> {
    return (await this.markPostedMany([{ id, ts }])) === 1;
  }

  /** markPosted for many runs in one statement; answers how many were not recorded before. */
  async markPostedMany(posts: Array<{ id: string; ts: string }>): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE runs SET posted_ts = p.ts, posted_at = now()
         FROM unnest($1::uuid[], $2::text[]) AS p(id, ts)
        WHERE runs.id = p.id AND runs.posted_ts IS NULL`,
      [posts.map((post) => post.id), posts.map((post) => post.ts)],
    );
    return rowCount ?? 0;
  }

  /**
   * Records a fleet run under its first run's id (what its jobs are named after); a second
   * record of the same fleet (a retried command) is a no-op.
   */
  async recordFleet(fleet: FleetRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO fleet_runs (id, run_ids, channel_id, label) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO NOTHING`,
      [fleet.runIds[0], fleet.runIds, fleet.channel, fleet.label],
    );
  }

  /** The fleet's summary is posted: the sweep leaves it alone from now on. */
  async markFleetPosted(runIds: readonly string[]): Promise<void> {
    await this.db.query(
      `UPDATE fleet_runs SET summary_posted_at = now()
        WHERE id = ANY($1::uuid[]) AND summary_posted_at IS NULL`,
      [runIds],
    );
  }

  /**
   * Fleets whose summary is not posted, created within the window and quiet (no run of theirs
   * started, finished or was requeued, nor the fleet) for `quietSeconds`, doubled with each
   * requeue: their job was lost, or gave up. Each is marked requeued in this statement, and the
   * mark taken back when `enqueue` fails, as requeueStranded does for runs.
   */
  async requeueStrandedFleets(
    options: { quietSeconds: number; windowSeconds: number; limit: number },
    enqueue: (fleets: StrandedFleet[]) => Promise<void>,
  ): Promise<StrandedFleet[]> {
    const { rows } = await this.db.query<{
      id: string;
      run_ids: string[];
      channel_id: string;
      label: string;
      finished: boolean;
      requeue_count: number;
      previous_requeued_at: Date | null;
    }>(
      `WITH stranded AS (
         SELECT f.id, f.requeued_at, activity.finished
           FROM fleet_runs f
           CROSS JOIN LATERAL (
             SELECT bool_and(r.status IN ('done', 'failed')) AS finished,
                    max(greatest(r.created_at, r.started_at, r.finished_at, r.requeued_at)) AS last
               FROM runs r WHERE r.id = ANY(f.run_ids)) AS activity
          WHERE f.summary_posted_at IS NULL
            AND f.created_at > now() - make_interval(secs => $2)
            AND greatest(f.created_at, f.requeued_at, activity.last)
                < now() - make_interval(secs => $1 * 2 ^ f.requeue_count)
          ORDER BY f.created_at
          LIMIT $3
          FOR UPDATE OF f SKIP LOCKED
       )
       UPDATE fleet_runs SET requeued_at = now(), requeue_count = fleet_runs.requeue_count + 1
         FROM stranded WHERE fleet_runs.id = stranded.id
       RETURNING fleet_runs.id, fleet_runs.run_ids::text[] AS run_ids, fleet_runs.channel_id,
                 fleet_runs.label, coalesce(stranded.finished, true) AS finished,
                 fleet_runs.requeue_count, stranded.requeued_at AS previous_requeued_at`,
      [options.quietSeconds, options.windowSeconds, options.limit],
    );
    const fleets = rows.map((row) => ({
      runIds: row.run_ids,
      channel: row.channel_id,
      label: row.label,
      finished: row.finished,
      requeueCount: row.requeue_count,
    }));
    if (fleets.length === 0) return fleets;
    try {
      await enqueue(fleets);
    } catch (err) {
      await this.db
        .query(
          `UPDATE fleet_runs SET requeued_at = p.previous, requeue_count = fleet_runs.requeue_count - 1
             FROM unnest($1::uuid[], $2::timestamptz[], $3::int[]) AS p(id, previous, count)
            WHERE fleet_runs.id = p.id AND fleet_runs.requeue_count = p.count`,
          [
            rows.map((row) => row.id),
            rows.map((row) => row.previous_requeued_at),
            rows.map((row) => row.requeue_count),
          ],
        )
        .catch(() => undefined);
      throw err;
    }
    return fleets;
  }

  /** The latest runs, newest first, without their reports (a listing shows each one's status). */
  async recent(limit = 20): Promise<Run[]> {
    const { rows } = await this.db.query<RunRow>(
      `SELECT ${COLUMNS} FROM runs ORDER BY created_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map((row) => toRun(row, null));
  }
}
