import type { StoredAuditEvent } from '../audit/events.js';

/**
 * `runbook-bot audit export`: one JSON line per event, the content its hash covers plus
 * prevHash, hash and hashScheme, so a copy can be checked without the database: hash =
 * sha256(prevHash + '\n' + canonicalJson(the line without prevHash, hash and hashScheme)),
 * or HMAC-SHA256 of the same under AUDIT_HMAC_KEY when hashScheme is hmac-sha256.
 */
export function auditEventJson({ event, content, hashScheme }: StoredAuditEvent): string {
  return JSON.stringify({ ...content, prevHash: event.prevHash, hash: event.hash, hashScheme });
}
