import type { StoredIncident } from '../store/incidents.js';
import { formatInTimeZone } from '../time.js';
import type { EscalationLevel, EscalationSource, Milestone, SeverityRule } from './severityPolicy.js';

/** How a medium writes a person, a user group and a phrase to stress; the words are the same everywhere. */
export interface NoticeStyle {
  mention(userId: string): string;
  /** A user group by its id (`S…`). */
  group(groupId: string): string;
  strong(text: string): string;
}

/** What an incident's timers are computed from: its severity's rule and escalation path. */
export interface IncidentPlan {
  rule: SeverityRule;
  path: EscalationLevel[];
  pathSource: EscalationSource;
}

/** When the incident's response target passes: its severity's target after the declaration. */
export function responseDeadline(
  incident: Pick<StoredIncident, 'declaredAt'>,
  rule: Pick<SeverityRule, 'responseMs'>,
): Date {
  return new Date(incident.declaredAt.getTime() + rule.responseMs);
}

/** "immediately", "5 min", "1 h", "1 h 30 min", "1 day". */
export function durationText(ms: number): string {
  if (ms <= 0) return 'immediately';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${Math.max(1, minutes)} min`;
  if (minutes % (24 * 60) === 0) return minutes === 24 * 60 ? '1 day' : `${minutes / (24 * 60)} days`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/**
 * The levels escalated between at `step` (1: from the first level to the second), and the
 * groups told; undefined when the path has no such level (it was shortened meanwhile).
 */
export function escalationLevels(
  path: readonly EscalationLevel[],
  step: number,
): { from: string; to: string; groups: string[] } | undefined {
  const from = path[step - 1];
  const to = path[step];
  if (!from || !to) return undefined;
  return { from: from.name, to: to.name, groups: to.groups };
}

/**
 * Before the response target passes with nobody acknowledging: the commander is warned,
 * with the time it passes in the configured zone.
 */
export function responseWarningText(
  incident: Pick<StoredIncident, 'declaredAt' | 'commander'>,
  rule: SeverityRule,
  timeZone: string,
  style: NoticeStyle,
): string {
  return `${rule.label} response target passes at ${formatInTimeZone(responseDeadline(incident, rule), timeZone)} and nobody has acknowledged or acted yet. ${style.mention(incident.commander)}`;
}

/** At each step with nobody acknowledging: escalated from one level to the next, its groups mentioned. */
export function escalationText(
  incident: Pick<StoredIncident, 'severity'>,
  plan: IncidentPlan,
  step: number,
  style: NoticeStyle,
): string | undefined {
  const levels = escalationLevels(plan.path, step);
  if (!levels) return undefined;
  const groups = levels.groups.map((group) => ` ${style.group(group)}`).join('');
  const opening =
    step === 1
      ? `The ${incident.severity} response target has passed with no acknowledgement`
      : `Still no acknowledgement of this ${incident.severity}`;
  const last = step === plan.path.length - 1 ? ' (the last level)' : '';
  return `${opening}: escalating from ${levels.from} to ${style.strong(levels.to)}${last}.${groups}`;
}

/** A staged milestone of the severity, as its runbook or the policy file words it. */
export function milestoneText(
  incident: Pick<StoredIncident, 'severity'>,
  milestone: Milestone,
  style: NoticeStyle,
): string {
  const when = milestone.atMs === 0 ? 'right away' : `within ${durationText(milestone.atMs)} of declaring`;
  return `${incident.severity} milestone, ${when}: ${style.strong(milestone.text)}`;
}
