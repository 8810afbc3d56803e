/**
 * Audit events as the domain records them: structured data (who, what, the SQL, the values,
 * the outcome), never words written for one medium. Each medium renders them itself: Slack
 * (slack/views/auditLine.ts), the incident report (incidents/timelineMarkdown.ts), the
 * terminal (terminal/auditText.ts); describe.ts is what they share.
 */

export type AuditKind =
  | 'command'
  | 'preview'
  | 'approval_requested'
  | 'approved'
  | 'rejected'
  | 'expired'
  | 'lapsed'
  | 'execution_started'
  | 'execution_finished'
  | 'outcome_unknown'
  | 'verification'
  | 'reverted'
  | 'manual_step'
  | 'refused'
  | 'incident_declared'
  | 'incident_updated'
  | 'incident_resolved'
  | 'incident_timer'
  | 'incident_page';

export interface AuditEventInput {
  kind: AuditKind;
  /** Slack user id, or 'runbook-bot'. */
  actor: string;
  target?: string;
  runId?: string;
  requestId?: string;
  incidentId?: string;
  /** What happened: sql, params, plan hash, result, reason… (stored as jsonb). */
  data: Record<string, unknown>;
  /** Where the event is mirrored: the run's (or incident's) root message thread. */
  mirror?: AuditMirrorTarget;
}

/** A channel, and the thread in it, that an event's line is posted to. */
export interface AuditMirrorTarget {
  channel: string;
  threadTs?: string;
}

export interface AuditEvent extends Omit<AuditEventInput, 'mirror'> {
  seq: number;
  at: Date;
  prevHash: string;
  hash: string;
}

/** What a medium needs to render an event. */
export type RenderableEvent = Pick<AuditEvent, 'kind' | 'actor' | 'requestId' | 'data'>;

/**
 * How a row's hash was made: `sha256` anyone can recompute (so anyone who can write the
 * table can re-hash a changed chain); `hmac-sha256` needs AUDIT_HMAC_KEY, which lives only
 * in the bot's and the verifier's environment.
 */
export type HashScheme = 'sha256' | 'hmac-sha256';

/** The fields a hash covers, exactly as stored (absent ids are null). */
export interface HashedContent {
  seq: number;
  /** ISO 8601 in UTC with microseconds, e.g. 2024-11-27T10:15:03.123456Z. */
  at: string;
  kind: string;
  actor: string;
  target: string | null;
  runId: string | null;
  requestId: string | null;
  incidentId: string | null;
  data: unknown;
}

/** An event as stored, with the exact text its hash covers: what verify and export read. */
export interface StoredAuditEvent {
  event: AuditEvent;
  content: HashedContent;
  hashScheme: HashScheme;
}

/**
 * An incident change as `incident_updated` records it. Events written before changes were
 * structured hold a sentence in `change` (with Slack mentions) beside the field that
 * changed (`commander`, `severity` or `statusText`); incidentChange() reads both.
 */
export type IncidentChange =
  | { change: 'commander'; from?: string; to: string }
  | { change: 'severity'; from?: string; to: string }
  | { change: 'status'; text: string };

/** The change an `incident_updated` event records, from either shape; undefined if neither. */
export function incidentChange(data: Record<string, unknown>): IncidentChange | undefined {
  const from = typeof data.from === 'string' ? { from: data.from } : {};
  if ((data.change === 'commander' || data.change === 'severity') && typeof data.to === 'string')
    return { change: data.change, ...from, to: data.to };
  if (data.change === 'status' && typeof data.text === 'string') return { change: 'status', text: data.text };
  // The older shape: what IncidentService spread into `data` beside its sentence.
  if (typeof data.statusText === 'string') return { change: 'status', text: data.statusText };
  if (typeof data.commander === 'string') return { change: 'commander', to: data.commander };
  if (typeof data.severity === 'string') return { change: 'severity', to: data.severity };
  return undefined;
}

/** Which incident timer fired, as `incident_timer` records it (older events hold `message` only). */
export interface IncidentTimerFired {
  timer: 'response-warning' | 'escalation' | 'milestone' | 'status-reminder';
  severity: string;
  commander: string;
  /** ISO time the response target passes (warning) or passed (escalation). */
  deadline?: string;
  /** Escalation: from which level to which (`level`: 2 for the second), and the user groups told. */
  escalation?: { from: string; to: string; level?: number; groups?: string[] };
  /** Milestone: when after the declaration, and what it asks. */
  milestone?: { atMs: number; text: string };
}

/**
 * A page as `incident_page` records it: which provider, trigger or resolve, and whether the
 * provider took it; a failure is recorded once, when no retry follows, with its reason.
 */
export interface IncidentPageOutcome {
  provider: keyof typeof PAGER_NAME;
  action: 'trigger' | 'resolve';
  outcome: 'sent' | 'failed';
  reason?: string;
}

/** The pagers by name, as answers, logs and the audit log show them. */
export const PAGER_NAME = { pagerduty: 'PagerDuty', opsgenie: 'Opsgenie' } as const;
