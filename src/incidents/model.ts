import type { Phrase } from '../audit/describe.js';

/**
 * Incidents as the seeds define them: severities P0–P3 with response-time targets, a
 * commander, a status, a timeline built from the audit log, and a report drafted from what
 * actually happened.
 */

export type Severity = 'P0' | 'P1' | 'P2' | 'P3';
export const SEVERITIES: readonly Severity[] = ['P0', 'P1', 'P2', 'P3'];

/** The seeds' response times: P0 < 15 min, P1 < 1 h, P2 < 4 h, P3 < 24 h. */
export const RESPONSE_TARGET_MS: Record<Severity, number> = {
  P0: 15 * 60_000,
  P1: 60 * 60_000,
  P2: 4 * 60 * 60_000,
  P3: 24 * 60 * 60_000,
};

export const SEVERITY_LABEL: Record<Severity, string> = {
  P0: 'P0 Critical',
  P1: 'P1 High',
  P2: 'P2 Medium',
  P3: 'P3 Low',
};

export interface Incident {
  id: string;
  /** Human number, e.g. 42 in "INC-42". */
  number: number;
  title: string;
  severity: Severity;
  status: 'open' | 'resolved';
  declaredBy: string;
  commander: string;
  channelId: string;
  rootTs: string | null;
  declaredAt: Date;
  /** First acknowledgement or first action; stops the response-time warning. */
  acknowledgedAt: Date | null;
  resolvedAt: Date | null;
  /** Latest `/incident status` text. */
  statusText: string | null;
  /** `/incident resolve [summary]`. */
  summary: string | null;
  /** Procedure ids suggested by symptom matching when declared. */
  suggestedProcedures: string[];
  /** A target the incident is about, when declared from a report. */
  target: string | null;
}

/** One line of the timeline: an audit event linked to the incident, described (audit/describe.ts). */
export interface TimelineEntry {
  at: Date;
  kind: string;
  actor: string;
  what: Phrase;
}

/** A remediation executed (or attempted) during the incident, for "Fix applied". */
export interface RemediationRecord {
  title: string;
  target: string;
  sql: string;
  params: Array<string | number>;
  status: string;
  summary: string;
  approvers: string[];
  verification?: { before?: string; after?: string };
  at: Date;
}

/** Everything the report draft is composed from: structured evidence, never free invention. */
export interface IncidentReportInput {
  incident: Incident;
  timeline: TimelineEntry[];
  /** Critical (and warn) findings seen during the incident: "What broke". */
  findings: Array<{ target: string; title: string; status: string; summary: string }>;
  /** The best-matching runbook procedure: its root cause and prevention are marked "suggested". */
  matchedProcedure?: { id: string; title: string; rootCause?: string; prevention?: string };
  remediations: RemediationRecord[];
  /** Rollbacks the responders recorded (status updates starting "rolled back"), if any. */
  rolledBack: string[];
  /** IANA time zone the report's times are written in, e.g. "Europe/Berlin". */
  timeZone: string;
  /** When the draft is composed (for open incidents, the duration so far). */
  now: Date;
  /** Display names by Slack user id, where known; the draft shows `@name`, else `@U…`. */
  people?: Record<string, string>;
  /** The severity as the organisation names it ("P1 Major"); the built-in label without it. */
  severityLabel?: string;
}
