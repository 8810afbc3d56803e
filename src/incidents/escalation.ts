import type { StoredIncident } from '../store/incidents.js';
import { formatInTimeZone } from '../time.js';
import { RESPONSE_TARGET_MS, SEVERITY_LABEL } from './model.js';

/** How a medium writes a person and a phrase to stress; the words are the same everywhere. */
export interface NoticeStyle {
  mention(userId: string): string;
  strong(text: string): string;
}

/**
 * Before the response target passes with nobody acknowledging: the commander is warned,
 * with the time it passes in the configured zone.
 */
export function responseWarningText(
  incident: Pick<StoredIncident, 'severity' | 'declaredAt' | 'commander'>,
  timeZone: string,
  style: NoticeStyle,
): string {
  const deadline = new Date(incident.declaredAt.getTime() + RESPONSE_TARGET_MS[incident.severity]);
  return `${SEVERITY_LABEL[incident.severity]} response target passes at ${formatInTimeZone(deadline, timeZone)} and nobody has acknowledged or acted yet. ${style.mention(incident.commander)}`;
}

/**
 * Once it has passed unacknowledged: escalated from the first level of `INCIDENT_ESCALATION`
 * to the next (on-call, then the next level, when none is configured).
 */
export function escalationText(
  incident: Pick<StoredIncident, 'severity'>,
  escalation: readonly string[],
  style: NoticeStyle,
): string {
  const [first, next] = escalation;
  return `The ${incident.severity} response target has passed with no acknowledgement: escalating from ${first ?? 'on-call'} to ${style.strong(next ?? first ?? 'the next level')}.`;
}
