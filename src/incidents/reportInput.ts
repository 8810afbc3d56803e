import type pg from 'pg';
import { describeAuditEvent } from '../audit/describe.js';
import { incidentChange } from '../audit/events.js';
import { HEALTH_CHECKS } from '../health/catalog.js';
import { incidentEvents } from '../store/auditEvents.js';
import { findingsDuring, remediationsOf } from '../store/incidentReport.js';
import type { StoredIncident } from '../store/incidents.js';
import type { IncidentReportInput, RemediationRecord } from './model.js';
import { severityRule } from './severityPolicy.js';

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
  const [events, findings, remediations] = await Promise.all([
    incidentEvents(db, incident.id),
    incident.target ? findingsOf(db, incident.target, incident.declaredAt, until) : Promise.resolve([]),
    remediationsFor(db, incident.id),
  ]);
  const statuses = events.flatMap((event) => {
    const change = event.kind === 'incident_updated' ? incidentChange(event.data) : undefined;
    return change?.change === 'status' ? [change.text] : [];
  });
  return {
    incident,
    timeline: events.map((event) => ({
      at: event.at,
      kind: event.kind,
      actor: event.actor,
      what: describeAuditEvent(event),
    })),
    findings,
    matchedProcedure: incident.matchedProcedure ?? undefined,
    remediations,
    rolledBack: statuses.filter((text) => /\brolled back\b/i.test(text)),
    timeZone,
    now,
    // The runbook's label, as the terminal knows it; the service adds the policy file's.
    severityLabel: severityRule({ policy: {} }, incident.runbookPolicy ?? undefined, incident.severity).label,
  };
}

async function findingsOf(
  db: pg.Pool,
  target: string,
  from: Date,
  until: Date,
): Promise<IncidentReportInput['findings']> {
  const rows = await findingsDuring(db, target, from, until);
  return rows
    .map((row) => ({
      target,
      title: HEALTH_CHECKS.find((check) => check.id === row.check_id)?.title ?? row.check_id,
      status: row.status,
      summary: row.summary,
    }))
    .sort((a, b) => (a.status === b.status ? 0 : a.status === 'critical' ? -1 : 1));
}

async function remediationsFor(db: pg.Pool, incidentId: string): Promise<RemediationRecord[]> {
  const rows = await remediationsOf(db, incidentId);
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
