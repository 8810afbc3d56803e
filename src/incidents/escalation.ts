import type { StoredIncident } from '../store/incidents.js';
import { formatInTimeZone } from '../time.js';
import { RESPONSE_TARGET_MS, SEVERITY_LABEL } from './model.js';

/** How a medium writes a person and a phrase to stress; the words are the same everywhere. */
export interface NoticeStyle {
  mention(userId: string): string;
  strong(text: string): string;
}

/** When the incident's response target passes: its severity's target after the declaration. */
export function responseDeadline(incident: Pick<StoredIncident, 'severity' | 'declaredAt'>): Date {
  return new Date(incident.declaredAt.getTime() + RESPONSE_TARGET_MS[incident.severity]);
}

/**
 * Who is escalated from and to: the first two levels of `INCIDENT_ESCALATION` (on-call, then
 * the next level, when none is configured).
 */
export function escalationLevels(escalation: readonly string[]): { from: string; to: string } {
  const [first, next] = escalation;
  return { from: first ?? 'on-call', to: next ?? first ?? 'the next level' };
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
  return `${SEVERITY_LABEL[incident.severity]} response target passes at ${formatInTimeZone(responseDeadline(incident), timeZone)} and nobody has acknowledged or acted yet. ${style.mention(incident.commander)}`;
}

/** Once it has passed unacknowledged: escalated from one level to the next. */
export function escalationText(
  incident: Pick<StoredIncident, 'severity'>,
  escalation: readonly string[],
  style: NoticeStyle,
): string {
  const { from, to } = escalationLevels(escalation);
  return `The ${incident.severity} response target has passed with no acknowledgement: escalating from ${from} to ${style.strong(to)}.`;
}
