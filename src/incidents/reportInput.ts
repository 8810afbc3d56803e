import type pg from 'pg';
import { describeAuditEvent, type Phrase } from '../audit/describe.js';
import { incidentChange } from '../audit/events.js';
import { HEALTH_CHECKS } from '../health/catalog.js';
import { incidentEvents } from '../store/auditEvents.js';
import {
  type FindingRow,
  findingsDuring,
  type HealthRunRow,
  healthRunsOf,
  remediationsOf,
} from '../store/incidentReport.js';
import type { StoredIncident } from '../store/incidents.js';
import { SCHEDULER_REQUESTER } from '../store/runs.js';
import type { IncidentReportInput, RemediationRecord, TimelineEntry } from './model.js';
import { severityRule } from './severityPolicy.js';

/**
 * Gathers what the report draft is made of, from the state database only: the incident's
 * audit events and those of its procedure runs, and its health checks (the timeline); the
 * findings of those checks and of its target while it was open; and the remediations
 * executed for it. Its runs are those started in its channel, and those of the channel it
 * was declared in during the hour before (IncidentService.declare).
 */
export async function gatherReportInput(
  db: pg.Pool,
  incident: StoredIncident,
  timeZone: string,
  now = new Date(),
): Promise<IncidentReportInput> {
  const until = incident.resolvedAt ?? now;
  const [events, healthRuns, targetFindings, remediations] = await Promise.all([
    incidentEvents(db, incident.id),
    healthRunsOf(db, incident.id),
    incident.target ? findingsDuring(db, incident.target, incident.declaredAt, until) : Promise.resolve([]),
    remediationsFor(db, incident.id),
  ]);
  const statuses = events.flatMap((event) => {
    const change = event.kind === 'incident_updated' ? incidentChange(event.data) : undefined;
    return change?.change === 'status' ? [change.text] : [];
  });
  return {
    incident,
    timeline: [
      ...events.map((event) => ({
        at: event.at,
        kind: event.kind,
        actor: event.actor,
        what: describeAuditEvent(event),
      })),
      ...healthRuns.map(healthRunEntry),
    ].sort((a, b) => a.at.getTime() - b.at.getTime()),
    findings: findingsOf([
      ...healthRuns.flatMap((run) => (run.findings ?? []).map((row) => ({ ...row, target: run.target }))),
      // Newest last: the target's own are the latest seen while the incident was open.
      ...targetFindings.map((row) => ({ ...row, target: incident.target ?? '' })),
    ]),
    matchedProcedure: incident.matchedProcedure ?? undefined,
    remediations,
    rolledBack: statuses.filter((text) => /\brolled back\b/i.test(text)),
    timeZone,
    now,
    // The runbook's label, as the terminal knows it; the service adds the policy file's.
    severityLabel: severityRule({ policy: {} }, incident.runbookPolicy ?? undefined, incident.severity).label,
  };
}

/** One finding per target and check, the last given winning; critical first. */
function findingsOf(rows: Array<FindingRow & { target: string }>): IncidentReportInput['findings'] {
  const latest = new Map(rows.map((row) => [`${row.target}\u0000${row.check_id}`, row]));
  return [...latest.values()]
    .map((row) => ({
      target: row.target,
      title: checkTitle(row.check_id),
      status: row.status,
      summary: row.summary,
    }))
    .sort((a, b) => (a.status === b.status ? 0 : a.status === 'critical' ? -1 : 1));
}

function checkTitle(checkId: string): string {
  return HEALTH_CHECKS.find((check) => check.id === checkId)?.title ?? checkId;
}

/** A health check on the timeline: who ran it, on what, and what it found wrong. */
function healthRunEntry(run: HealthRunRow): TimelineEntry {
  const scheduled = run.requested_by === SCHEDULER_REQUESTER;
  const problems = (run.findings ?? []).map((row) => `${checkTitle(row.check_id)} (${row.status})`);
  const what: Phrase = [
    ...(scheduled
      ? ['a scheduled health check of ']
      : [{ person: run.requested_by }, ' ran a health check of ']),
    { code: run.target },
    `: ${run.status}`,
    ...(problems.length > 0 ? [`: ${problems.join(', ')}`] : []),
  ];
  return { at: run.at, kind: 'health_check', actor: scheduled ? 'runbook-bot' : run.requested_by, what };
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
