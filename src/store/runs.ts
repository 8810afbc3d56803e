import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { HealthReport } from '../runbooks/health/types.js';

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

export interface NewHealthRun {
  target: string;
  requestedBy: string;
  channelId?: string;
  responseUrl?: string;
  /** Same key, same run: Slack retries and double submissions do not create another. */
  idempotencyKey?: string;
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
  report: HealthReport | null;
  report_status: string | null;
  posted_ts: string | null;
  created_at: Date;
}

const COLUMNS =
  'id, idempotency_key, kind, target, requested_by, channel_id, response_url, status, error, report, report_status, posted_ts, created_at';

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    kind: row.kind,
    target: row.target,
    requestedBy: row.requested_by,
    channelId: row.channel_id,
    responseUrl: row.response_url,
    status: row.status,
    error: row.error,
    report: row.report,
    reportStatus: row.report_status,
    postedTs: row.posted_ts,
    createdAt: row.created_at,
  };
}

/** Runs and their findings in the state database: the durable record behind every report. */
export class RunStore {
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
    const { rows: inserted } = await this.db.query<RunRow>(
      `INSERT INTO runs (id, kind, target, requested_by, channel_id, response_url, idempotency_key)
       SELECT id, 'health', target, requested_by, channel_id, response_url, idempotency_key
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              AS r(id, target, requested_by, channel_id, response_url, idempotency_key)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        ids,
        column('target'),
        column('requestedBy'),
        column('channelId'),
        column('responseUrl'),
        column('idempotencyKey'),
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
      if (row) return { run: toRun(row), created: true };
      const holder = byKey.get(input.idempotencyKey ?? null);
      if (!holder) throw new Error(`run for ${input.idempotencyKey} was neither created nor found`);
      return { run: toRun(holder), created: false };
    });
  }

  async get(id: string): Promise<Run | undefined> {
    const { rows } = await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id = $1`, [id]);
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  async markRunning(id: string): Promise<void> {
    await this.db.query(
      `UPDATE runs SET status = 'running', started_at = coalesce(started_at, now()) WHERE id = $1`,
      [id],
    );
  }

  /** Stores the report and its findings in one transaction, before anything is posted. */
  async saveReport(id: string, report: HealthReport): Promise<void> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `UPDATE runs SET status = 'done', report = $2, report_status = $3, finished_at = now(), error = NULL
          WHERE id = $1`,
        [id, JSON.stringify(report), report.status],
      );
      await client.query('DELETE FROM findings WHERE run_id = $1', [id]);
      if (report.findings.length > 0) {
        await client.query(
          `INSERT INTO findings (run_id, check_id, status, summary)
           SELECT $1, f.id, f.status, f.summary
             FROM jsonb_to_recordset($2::jsonb) AS f(id text, status text, summary text)`,
          [id, JSON.stringify(report.findings)],
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.db.query(`UPDATE runs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1`, [
      id,
      error,
    ]);
  }

  /** Records the Slack message of the report; false when another notifier got there first. */
  async markPosted(id: string, ts: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE runs SET posted_ts = $2, posted_at = now() WHERE id = $1 AND posted_ts IS NULL',
      [id, ts],
    );
    return rowCount === 1;
  }

  async recent(limit = 20): Promise<Run[]> {
    const { rows } = await this.db.query<RunRow>(
      `SELECT ${COLUMNS} FROM runs ORDER BY created_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map(toRun);
  }
}
