import type pg from 'pg';
import { AuditLog } from '../audit/auditLog.js';
import { HEALTH_CHECKS } from '../health/catalog.js';
import { auditEventText } from '../jobs/auditMirror.js';
import type { StoredIncident } from '../store/incidents.js';
import type { IncidentReportInput, RemediationRecord, TimelineEntry } from './model.js';

/**
 * Gathers what the report draft is made of, from the state database only: the incident's
 * audit events and those of the runs started in its channel (the timeline), the health
 * findings of its target while it was open, and the remediations executed for it.
 */
export async function gatherReportInput(
  db: pg.Pool,
  incident: StoredIncident,
  timeZone: string,
  now = new Date(),
): Promise<IncidentReportInput> {
  const until = incident.resolvedAt ?? now;
  const [timeline, findings, remediations] = await Promise.all([
    timelineOf(db, incident.id),
    incident.target ? findingsOf(db, incident.target, incident.declaredAt, until) : Promise.resolve([]),
    remediationsOf(db, incident.id),
  ]);
  return {
    incident,
    timeline,
    findings,
    matchedProcedure: incident.matchedProcedure ?? undefined,
    remediations,
    rolledBack: timeline
      .filter((entry) => entry.kind === 'incident_updated' && /\brolled back\b/i.test(entry.text))
      .map((entry) => entry.text.replace(/^.*?posted a status:\s*/i, '')),
    timeZone,
    now,
  };
}

async function timelineOf(db: pg.Pool, incidentId: string): Promise<TimelineEntry[]> {
  const events = await new AuditLog(db).incidentEvents(incidentId);
  return events.map((event) => ({
    at: event.at,
    kind: event.kind,
    actor: event.actor,
    text: auditEventText(event),
  }));
}

async function findingsOf(
  db: pg.Pool,
  target: string,
  from: Date,
  until: Date,
): Promise<IncidentReportInput['findings']> {
  // The newest status of each check seen while the incident was open, worst first.
  const { rows } = await db.query<{ check_id: string; status: string; summary: string }>(
    `SELECT DISTINCT ON (f.check_id) f.check_id, f.status, f.summary
       FROM report_findings f JOIN health_reports h ON h.id = f.report_id
      WHERE h.target = $1 AND h.created_at BETWEEN $2 AND $3 AND f.status IN ('critical', 'warn')
      ORDER BY f.check_id, h.created_at DESC`,
    [target, new Date(from.getTime() - 60 * 60_000), until],
  );
  return rows
    .map((row) => ({
      target,
      title: HEALTH_CHECKS.find((check) => check.id === row.check_id)?.title ?? row.check_id,
      status: row.status,
      summary: row.summary,
    }))
    .sort((a, b) => (a.status === b.status ? 0 : a.status === 'critical' ? -1 : 1));
}

async function remediationsOf(db: pg.Pool, incidentId: string): Promise<RemediationRecord[]> {
  const { rows } = await db.query<{
    step_id: string;
    procedure: { steps: Array<{ id: string; title: string }> };
    target: string;
    sql: string;
    params: Array<string | number>;
    status: string;
    outcome: { summary?: string; verification?: { before?: string; after?: string } } | null;
    approvers: string[] | null;
    updated_at: Date;
  }>(
    `SELECT r.step_id, p.procedure, r.target, r.sql, r.params, r.status, r.outcome, r.updated_at,
            (SELECT array_agg(a.approver ORDER BY a.approved_at) FROM approvals a WHERE a.request_id = r.id) AS approvers
       FROM action_requests r JOIN procedure_runs p ON p.id = r.run_id
      WHERE p.incident_id = $1 AND r.status IN ('succeeded', 'failed', 'aborted', 'outcome_unknown', 'changed')
      ORDER BY r.updated_at`,
    [incidentId],
  );
  return rows.map((row) => ({
    title: row.procedure.steps.find((step) => step.id === row.step_id)?.title ?? `step ${row.step_id}`,
    target: row.target,
    sql: row.sql,
    params: row.params,
    status: row.status,
    summary: row.outcome?.summary ?? row.status,
    approvers: row.approvers ?? [],
    verification: row.outcome?.verification,
    at: row.updated_at,
  }));
}
