import type { IncidentTimerFired } from '../audit/events.js';
import type { IncidentTimer } from '../jobs/catalog.js';
import type { StoredIncident } from '../store/incidents.js';
import {
  escalationLevels,
  escalationText,
  type NoticeStyle,
  responseDeadline,
  responseWarningText,
} from './escalation.js';
import { RESPONSE_TARGET_MS, type Severity } from './model.js';

export type { IncidentTimer };

/** Warn when this share of the response target has passed with no acknowledgement. */
const WARNING_AT = 0.75;

/** P0 and P1 remind their commander to post a status. */
export function remindsOfStatus(severity: Severity): boolean {
  return severity === 'P0' || severity === 'P1';
}

/**
 * How long from `now` until the response warning and the escalation are due (at most
 * overdue: zero), counted from the declaration and its severity's response target.
 */
export function responseTimerDelays(
  incident: Pick<StoredIncident, 'severity' | 'declaredAt'>,
  now: number,
): Array<[Exclude<IncidentTimer, 'status-reminder'>, number]> {
  const target = RESPONSE_TARGET_MS[incident.severity];
  const elapsed = now - incident.declaredAt.getTime();
  return [
    ['response-warning', Math.max(0, Math.round(target * WARNING_AT - elapsed))],
    ['escalation', Math.max(0, Math.round(target - elapsed))],
  ];
}

/**
 * What a timer says when it fires, or nothing: nothing once the incident is resolved, no
 * warning or escalation once someone has acknowledged or acted, no reminder once the
 * severity no longer asks for one (the scheduler brings the next; lowering the severity
 * removes it).
 */
export function timerNotice(
  incident: Pick<StoredIncident, 'status' | 'severity' | 'declaredAt' | 'commander' | 'acknowledgedAt'>,
  timer: IncidentTimer,
  settings: { escalation: readonly string[]; timeZone: string },
  style: NoticeStyle,
): string | undefined {
  if (incident.status === 'resolved') return undefined;
  switch (timer) {
    case 'response-warning':
      return incident.acknowledgedAt ? undefined : responseWarningText(incident, settings.timeZone, style);
    case 'escalation':
      return incident.acknowledgedAt ? undefined : escalationText(incident, settings.escalation, style);
    case 'status-reminder':
      return remindsOfStatus(incident.severity)
        ? `${style.mention(incident.commander)}, time for a status update: \`/incident status …\``
        : undefined;
  }
}

/** What a timer that spoke records in the audit: what fired, not its words (each medium words it). */
export function timerFired(
  incident: Pick<StoredIncident, 'severity' | 'declaredAt' | 'commander'>,
  timer: IncidentTimer,
  settings: { escalation: readonly string[] },
): IncidentTimerFired {
  return {
    timer,
    severity: incident.severity,
    commander: incident.commander,
    ...(timer === 'status-reminder' ? {} : { deadline: responseDeadline(incident).toISOString() }),
    ...(timer === 'escalation' ? { escalation: escalationLevels(settings.escalation) } : {}),
  };
}
