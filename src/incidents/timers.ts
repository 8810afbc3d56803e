import type { IncidentTimerFired } from '../audit/events.js';
import type { IncidentTimer } from '../jobs/catalog.js';
import type { StoredIncident } from '../store/incidents.js';
import {
  escalationLevels,
  escalationText,
  type IncidentPlan,
  milestoneText,
  type NoticeStyle,
  responseDeadline,
  responseWarningText,
} from './escalation.js';
import { SEVERITIES } from './model.js';
import {
  escalationPath,
  escalationSchedule,
  type IncidentPolicySettings,
  severityRule,
} from './severityPolicy.js';

export type { IncidentTimer };

/** One timer of an incident: which, and for escalations and milestones, which one. */
export interface TimerRef {
  timer: IncidentTimer;
  /** Escalation: the level reached (1 is the second level); milestone: its index. */
  step?: number;
}

/** Warn when this share of the response target has passed with no acknowledgement. */
const WARNING_AT = 0.75;

/** The incident's severity rule and escalation path, from the settings and its runbook's. */
export function incidentPlan(
  incident: Pick<StoredIncident, 'severity' | 'runbookPolicy'>,
  settings: IncidentPolicySettings,
): IncidentPlan {
  const runbook = incident.runbookPolicy ?? undefined;
  const { path, source } = escalationPath(settings, incident.severity, runbook);
  return { rule: severityRule(settings, runbook, incident.severity), path, pathSource: source };
}

/**
 * The timers an incident can have under any severity: a severity change cancels them all
 * before scheduling its own.
 */
export function everyTimer(
  incident: Pick<StoredIncident, 'runbookPolicy'>,
  settings: IncidentPolicySettings,
): TimerRef[] {
  let levels = 0;
  let milestones = 0;
  for (const severity of SEVERITIES) {
    const plan = incidentPlan({ ...incident, severity }, settings);
    levels = Math.max(levels, plan.path.length - 1);
    milestones = Math.max(milestones, plan.rule.milestones.length);
  }
  return [
    { timer: 'response-warning' },
    ...Array.from({ length: levels }, (_, index) => ({ timer: 'escalation' as const, step: index + 1 })),
    ...Array.from({ length: milestones }, (_, index) => ({ timer: 'milestone' as const, step: index })),
  ];
}

/**
 * How long from `now` until each timer is due (at most overdue: zero), counted from the
 * declaration: the warning at three quarters of the response target (none for an
 * immediate one), each escalation level when escalationSchedule says, each milestone at its
 * time. `skipPastMilestones`: milestones already due are left out (a severity changed late
 * does not post the new severity's past milestones all at once).
 */
export function responseTimerDelays(
  incident: Pick<StoredIncident, 'declaredAt'>,
  plan: IncidentPlan,
  now: number,
  options: { skipPastMilestones?: boolean } = {},
): Array<TimerRef & { delayMs: number }> {
  const elapsed = now - incident.declaredAt.getTime();
  const until = (atMs: number) => Math.max(0, Math.round(atMs - elapsed));
  const timers: Array<TimerRef & { delayMs: number }> = [];
  if (plan.rule.responseMs > 0)
    timers.push({ timer: 'response-warning', delayMs: until(plan.rule.responseMs * WARNING_AT) });
  escalationSchedule(plan.rule, plan.path).forEach((atMs, index) => {
    timers.push({ timer: 'escalation', step: index + 1, delayMs: until(atMs) });
  });
  plan.rule.milestones.forEach((milestone, index) => {
    if (options.skipPastMilestones && milestone.atMs < elapsed) return;
    timers.push({ timer: 'milestone', step: index, delayMs: until(milestone.atMs) });
  });
  return timers;
}

/**
 * What a timer says when it fires, or nothing: nothing once the incident is resolved, no
 * warning or escalation once someone has acknowledged or acted, no reminder once the
 * severity no longer asks for one (the scheduler brings the next; lowering the severity
 * removes it), nothing for a level or milestone the plan no longer has.
 */
export function timerNotice(
  incident: Pick<StoredIncident, 'status' | 'severity' | 'declaredAt' | 'commander' | 'acknowledgedAt'>,
  ref: TimerRef,
  plan: IncidentPlan,
  settings: { timeZone: string },
  style: NoticeStyle,
): string | undefined {
  if (incident.status === 'resolved') return undefined;
  switch (ref.timer) {
    case 'response-warning':
      return incident.acknowledgedAt
        ? undefined
        : responseWarningText(incident, plan.rule, settings.timeZone, style);
    case 'escalation':
      // Jobs queued before levels were numbered escalate to the second level.
      return incident.acknowledgedAt ? undefined : escalationText(incident, plan, ref.step ?? 1, style);
    case 'milestone': {
      const milestone = plan.rule.milestones[ref.step ?? 0];
      return milestone ? milestoneText(incident, milestone, style) : undefined;
    }
    case 'status-reminder':
      return plan.rule.statusReminderMs !== undefined
        ? `${style.mention(incident.commander)}, time for a status update: \`/incident status …\``
        : undefined;
  }
}

/** What a timer that spoke records in the audit: what fired, not its words (each medium words it). */
export function timerFired(
  incident: Pick<StoredIncident, 'severity' | 'declaredAt' | 'commander'>,
  ref: TimerRef,
  plan: IncidentPlan,
): IncidentTimerFired {
  const step = ref.step ?? (ref.timer === 'escalation' ? 1 : 0);
  const levels = ref.timer === 'escalation' ? escalationLevels(plan.path, step) : undefined;
  const milestone = ref.timer === 'milestone' ? plan.rule.milestones[step] : undefined;
  return {
    timer: ref.timer,
    severity: incident.severity,
    commander: incident.commander,
    ...(ref.timer === 'response-warning' || ref.timer === 'escalation'
      ? { deadline: responseDeadline(incident, plan.rule).toISOString() }
      : {}),
    ...(levels ? { escalation: { ...levels, level: step + 1 } } : {}),
    ...(milestone ? { milestone: { atMs: milestone.atMs, text: milestone.text } } : {}),
  };
}
