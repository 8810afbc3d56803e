import type pg from 'pg';

/** The SQL behind an incident report's evidence (incidents/reportInput.ts composes it). */

export interface FindingRow {
  check_id: string;
  status: string;
  summary: string;
}

/**
 * The newest status of each check on `target` seen while the incident was open (from an
 * hour before `from`), critical and warn only.
 */
export async function findingsDuring(
  db: pg.Pool,
  target: string,
  from: Date,
  until: Date,
): Promise<FindingRow[]> {
  const { rows } = await db.query<FindingRow>(
    `SELECT DISTINCT ON (f.check_id) f.check_id, f.status, f.summary
       FROM report_findings f JOIN health_reports h ON h.id = f.report_id
      WHERE h.target = $1 AND h.created_at BETWEEN $2 AND $3 AND f.status IN ('critical', 'warn')
      ORDER BY f.check_id, h.created_at DESC`,
    [target, new Date(from.getTime() - 60 * 60_000), until],
  );
  return rows;
}

export interface HealthRunRow {
  requested_by: string;
  target: string;
  status: string;
  at: Date;
  /** Critical first, then warn; null when the report had neither. */
  findings: FindingRow[] | null;
}

/** The health checks that are part of the incident (run in its channels), each with its report's problems, oldest first. */
export async function healthRunsOf(db: pg.Pool, incidentId: string): Promise<HealthRunRow[]> {
  const { rows } = await db.query<HealthRunRow>(
    `SELECT r.requested_by, h.target, h.status, h.created_at AS at,
            (SELECT json_agg(json_build_object('check_id', f.check_id, 'status', f.status, 'summary', f.summary)
                             ORDER BY f.status = 'warn', f.check_id)
               FROM report_findings f WHERE f.report_id = h.id AND f.status IN ('critical', 'warn')) AS findings
       FROM runs r JOIN health_reports h ON h.id = r.report_id
      WHERE r.incident_id = $1
      ORDER BY h.created_at`,
    [incidentId],
  );
  return rows;
}

export interface RemediationRow {
  step_id: string;
  procedure: { steps: Array<{ id: string; title: string }> };
  target: string;
  sql: string;
  params: Array<string | number>;
  status: string;
  outcome: { summary?: string; verification?: { before?: string; after?: string } } | null;
  approvers: string[] | null;
  updated_at: Date;
}

/** The finished (or abandoned) requests of the runs started in the incident's channel, oldest first. */
export async function remediationsOf(db: pg.Pool, incidentId: string): Promise<RemediationRow[]> {
  const { rows } = await db.query<RemediationRow>(
    `SELECT r.step_id, p.procedure, r.target, r.sql, r.params, r.status, r.outcome, r.updated_at,
            (SELECT array_agg(a.approver ORDER BY a.approved_at) FROM approvals a WHERE a.request_id = r.id) AS approvers
       FROM action_requests r JOIN procedure_runs p ON p.id = r.run_id
      WHERE p.incident_id = $1 AND r.status IN ('succeeded', 'nothing_done', 'failed', 'aborted', 'outcome_unknown', 'changed')
      ORDER BY r.updated_at`,
    [incidentId],
  );
  return rows;
}
