/** Audit events: what the domain appends, and what the chain stores and hashes. */

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
  | 'manual_step'
  | 'refused'
  | 'incident_declared'
  | 'incident_updated'
  | 'incident_resolved'
  | 'incident_timer';

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
