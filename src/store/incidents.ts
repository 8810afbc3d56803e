import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Incident, Severity } from '../incidents/model.js';
import type { RunbookIncidentPolicy } from '../runbooks/model.js';

interface Row {
  id: string;
  number: number;
  title: string;
  severity: Severity;
  status: 'open' | 'resolved';
  declared_by: string;
  commander: string;
  origin_channel: string;
  channel_id: string | null;
  root_ts: string | null;
  declared_at: Date;
  acknowledged_at: Date | null;
  resolved_at: Date | null;
  status_text: string | null;
  summary: string | null;
  target: string | null;
  suggested_procedures: string[];
  matched_procedure: MatchedProcedure | null;
  announced_at: Date | null;
  runbook_policy: RunbookIncidentPolicy | null;
  paged_at: Date | null;
}

export interface MatchedProcedure {
  id: string;
  title: string;
  rootCause?: string;
  prevention?: string;
}

export interface StoredIncident extends Incident {
  originChannel: string;
  matchedProcedure: MatchedProcedure | null;
  /** When the declaring channel was told about the incident's own channel. */
  announcedAt: Date | null;
  /** Its runbook's severity table and milestones, as they were when it was declared. */
  runbookPolicy: RunbookIncidentPolicy | null;
  /** When a pager was first triggered for it. */
  pagedAt: Date | null;
}

function toIncident(row: Row): StoredIncident {
  return {
    id: row.id,
    number: row.number,
    title: row.title,
    severity: row.severity,
    status: row.status,
    declaredBy: row.declared_by,
    commander: row.commander,
    originChannel: row.origin_channel,
    channelId: row.channel_id ?? row.origin_channel,
    rootTs: row.root_ts,
    declaredAt: row.declared_at,
    acknowledgedAt: row.acknowledged_at,
    resolvedAt: row.resolved_at,
    statusText: row.status_text,
    summary: row.summary,
    target: row.target,
    suggestedProcedures: row.suggested_procedures,
    matchedProcedure: row.matched_procedure,
    announcedAt: row.announced_at,
    runbookPolicy: row.runbook_policy,
    pagedAt: row.paged_at,
  };
}

export interface NewIncident {
  title: string;
  severity: Severity;
  declaredBy: string;
  originChannel: string;
  target?: string;
  suggestedProcedures: string[];
  matchedProcedure?: MatchedProcedure;
  runbookPolicy?: RunbookIncidentPolicy;
  idempotencyKey: string;
}

/** Incidents in the state database; their timeline is the audit log. */
export class IncidentStore {
  constructor(private readonly db: pg.Pool) {}

  async create(input: NewIncident): Promise<{ incident: StoredIncident; created: boolean }> {
    const { rows } = await this.db.query<Row>(
      `INSERT INTO incidents (id, title, severity, declared_by, commander, origin_channel, target,
                              suggested_procedures, matched_procedure, idempotency_key, runbook_policy)
       VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
      [
        randomUUID(),
        input.title,
        input.severity,
        input.declaredBy,
        input.originChannel,
        input.target ?? null,
        input.suggestedProcedures,
        input.matchedProcedure ? JSON.stringify(input.matchedProcedure) : null,
        input.idempotencyKey,
        input.runbookPolicy ? JSON.stringify(input.runbookPolicy) : null,
      ],
    );
    if (rows[0]) return { incident: toIncident(rows[0]), created: true };
    const existing = await this.db.query<Row>('SELECT * FROM incidents WHERE idempotency_key = $1', [
      input.idempotencyKey,
    ]);
    return { incident: toIncident(existing.rows[0]!), created: false };
  }

  async get(id: string): Promise<StoredIncident | undefined> {
    const { rows } = await this.db.query<Row>('SELECT * FROM incidents WHERE id = $1', [id]);
    return rows[0] ? toIncident(rows[0]) : undefined;
  }

  /** By id or human number ("42", "INC-42"). */
  async find(reference: string): Promise<StoredIncident | undefined> {
    const number = /^(?:inc-)?(\d+)$/i.exec(reference.trim())?.[1];
    const { rows } = number
      ? await this.db.query<Row>('SELECT * FROM incidents WHERE number = $1', [Number(number)])
      : /^[0-9a-f-]{36}$/i.test(reference)
        ? await this.db.query<Row>('SELECT * FROM incidents WHERE id = $1', [reference])
        : { rows: [] as Row[] };
    return rows[0] ? toIncident(rows[0]) : undefined;
  }

  /** The open incident worked in a channel (its own channel, or the one it was declared in). */
  async openInChannel(channelId: string): Promise<StoredIncident | undefined> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM incidents WHERE status = 'open' AND coalesce(channel_id, origin_channel) = $1
        ORDER BY declared_at DESC LIMIT 1`,
      [channelId],
    );
    return rows[0] ? toIncident(rows[0]) : undefined;
  }

  /** Open incidents declared from `channelId` but worked in a channel of their own. */
  async openDeclaredFrom(channelId: string): Promise<StoredIncident[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM incidents WHERE status = 'open' AND origin_channel = $1
          AND channel_id IS NOT NULL AND channel_id <> origin_channel
        ORDER BY declared_at DESC LIMIT 5`,
      [channelId],
    );
    return rows.map(toIncident);
  }

  /**
   * Makes the health checks and procedure runs of `channelId` in the last `withinMs` part of
   * the incident, unless they already belong to one: what was found and fixed before
   * someone declared it is on its timeline and in its report.
   */
  async attachRecent(
    id: string,
    channelId: string,
    withinMs: number,
  ): Promise<{ healthRuns: number; procedureRuns: number }> {
    const { rows } = await this.db.query<{ health_runs: number; procedure_runs: number }>(
      `WITH health AS (
              UPDATE runs SET incident_id = $1
               WHERE channel_id = $2 AND incident_id IS NULL AND created_at > now() - make_interval(secs => $3)
              RETURNING 1),
            procedures AS (
              UPDATE procedure_runs SET incident_id = $1
               WHERE channel_id = $2 AND incident_id IS NULL AND created_at > now() - make_interval(secs => $3)
              RETURNING 1)
       SELECT (SELECT count(*) FROM health)::int AS health_runs,
              (SELECT count(*) FROM procedures)::int AS procedure_runs`,
      [id, channelId, withinMs / 1000],
    );
    return { healthRuns: rows[0]?.health_runs ?? 0, procedureRuns: rows[0]?.procedure_runs ?? 0 };
  }

  async setChannel(id: string, channelId: string): Promise<void> {
    await this.db.query('UPDATE incidents SET channel_id = $2 WHERE id = $1', [id, channelId]);
  }

  /** Records the announcement in the origin channel; false when it was recorded already. */
  async markAnnounced(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE incidents SET announced_at = now() WHERE id = $1 AND announced_at IS NULL',
      [id],
    );
    return rowCount === 1;
  }

  /**
   * Open incidents not fully opened in Slack (no root message, or the declaring channel not
   * told about the incident's own channel): their open job was lost or gave up.
   */
  async unopened(options: { quietSeconds: number; windowSeconds: number; limit: number }): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      `SELECT id FROM incidents
        WHERE status = 'open'
          AND declared_at < now() - make_interval(secs => $1)
          AND declared_at > now() - make_interval(secs => $2)
          AND (root_ts IS NULL
               OR (channel_id IS NOT NULL AND channel_id <> origin_channel AND announced_at IS NULL))
        ORDER BY declared_at
        LIMIT $3`,
      [options.quietSeconds, options.windowSeconds, options.limit],
    );
    return rows.map((row) => row.id);
  }

  async setRoot(id: string, rootTs: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE incidents SET root_ts = $2 WHERE id = $1 AND root_ts IS NULL',
      [id, rootTs],
    );
    return rowCount === 1;
  }

  /** Changes what people can change while it is open; any change acknowledges it. */
  async update(
    id: string,
    change: { severity?: Severity; commander?: string; statusText?: string },
  ): Promise<StoredIncident | undefined> {
    const { rows } = await this.db.query<Row>(
      `UPDATE incidents SET severity = coalesce($2, severity), commander = coalesce($3, commander),
              status_text = coalesce($4, status_text), acknowledged_at = coalesce(acknowledged_at, now())
        WHERE id = $1 AND status = 'open' RETURNING *`,
      [id, change.severity ?? null, change.commander ?? null, change.statusText ?? null],
    );
    return rows[0] ? toIncident(rows[0]) : undefined;
  }

  /** Records the first page; false when it was paged before. */
  async markPaged(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE incidents SET paged_at = now() WHERE id = $1 AND paged_at IS NULL',
      [id],
    );
    return rowCount === 1;
  }

  async acknowledge(id: string): Promise<void> {
    await this.db.query(
      'UPDATE incidents SET acknowledged_at = coalesce(acknowledged_at, now()) WHERE id = $1',
      [id],
    );
  }

  /** open → resolved, once. */
  async resolve(id: string, summary: string | undefined): Promise<StoredIncident | undefined> {
    const { rows } = await this.db.query<Row>(
      `UPDATE incidents SET status = 'resolved', resolved_at = now(), summary = $2,
              acknowledged_at = coalesce(acknowledged_at, now())
        WHERE id = $1 AND status = 'open' RETURNING *`,
      [id, summary ?? null],
    );
    return rows[0] ? toIncident(rows[0]) : undefined;
  }
}
