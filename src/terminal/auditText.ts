import { describeAuditEvent, plainText } from '../audit/describe.js';
import type { AuditEvent, StoredAuditEvent } from '../audit/events.js';

/**
 * `runbook-bot audit export` in its two forms. JSON: one line per event, the content its
 * hash covers plus prevHash, hash and hashScheme, so a copy can be checked without the
 * database: hash = sha256(prevHash + '\n' + canonicalJson(the line without prevHash, hash
 * and hashScheme)), or HMAC-SHA256 of the same under AUDIT_HMAC_KEY when hashScheme is
 * hmac-sha256. Text: one line per event for a person at a terminal.
 */
export function auditEventJson({ event, content, hashScheme }: StoredAuditEvent): string {
  return JSON.stringify({ ...content, prevHash: event.prevHash, hash: event.hash, hashScheme });
}

/** "#12 2026-11-24T09:05:03Z U0ALICE approved request 1a2b3c4d…": SQL and words as recorded, on one line. */
export function auditEventTerminal(
  event: Pick<AuditEvent, 'seq' | 'at' | 'kind' | 'actor' | 'requestId' | 'data'>,
): string {
  const at = event.at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `#${event.seq} ${at} ${plainText(describeAuditEvent(event))}`;
}
