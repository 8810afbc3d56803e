import { describe, expect, it } from 'vitest';
import { describeAuditEvent, plainText } from '../../src/audit/describe.js';
import { formatZodIssues } from '../../src/formatIssues.js';
import { incidentChannelName, needsOwnChannel } from '../../src/incidents/channels.js';
import type { NoticeStyle } from '../../src/incidents/escalation.js';
import { incidentPolicySchema, severityRule } from '../../src/incidents/severityPolicy.js';
import {
  everyTimer,
  incidentPlan,
  responseTimerDelays,
  type TimerRef,
  timerFired,
  timerNotice,
} from '../../src/incidents/timers.js';

const declaredAt = new Date('2026-11-24T10:00:00Z');
const incident = {
  status: 'open' as const,
  severity: 'P1' as const,
  declaredAt,
  commander: 'U0LEAD',
  acknowledgedAt: null,
  title: 'Checkout failing: 502s!',
  number: 7,
  runbookPolicy: null,
};
const settings = { escalationNames: ['On-call engineer', 'Tech lead'], policy: {}, timeZone: 'UTC' };
const plan = incidentPlan(incident, settings);
const style: NoticeStyle = {
  mention: (user) => `[${user}]`,
  group: (id) => `{${id}}`,
  strong: (text) => `«${text}»`,
};
const MIN = 60_000;

/** The `incidents:` section of a policy file, validated as loadPolicyFile validates it. */
function configured(section: unknown) {
  return { escalationNames: [], policy: incidentPolicySchema.parse(section), timeZone: 'UTC' };
}

describe('incident timers', () => {
  it('warn at three quarters of the response target and escalate when it passes, counted from the declaration', () => {
    // P1: one hour. Ten minutes in, the warning is 35 minutes away and the escalation 50.
    expect(responseTimerDelays(incident, plan, declaredAt.getTime() + 10 * MIN)).toEqual([
      { timer: 'response-warning', delayMs: 35 * MIN },
      { timer: 'escalation', step: 1, delayMs: 50 * MIN },
    ]);
    // Long overdue (a timer scheduled again after the fact): due now, never negative.
    expect(responseTimerDelays(incident, plan, declaredAt.getTime() + 5 * 3600_000)).toEqual([
      { timer: 'response-warning', delayMs: 0 },
      { timer: 'escalation', step: 1, delayMs: 0 },
    ]);
  });

  it('say who is warned and to whom it escalates, in the style of the medium', () => {
    expect(timerNotice(incident, { timer: 'response-warning' }, plan, settings, style)).toBe(
      'P1 High response target passes at 2026-11-24 11:00 UTC and nobody has acknowledged or acted yet. [U0LEAD]',
    );
    expect(timerNotice(incident, { timer: 'escalation', step: 1 }, plan, settings, style)).toBe(
      'The P1 response target has passed with no acknowledgement: escalating from On-call engineer to «Tech lead» (the last level).',
    );
    // A job queued before levels were numbered escalates to the second level.
    expect(timerNotice(incident, { timer: 'escalation' }, plan, settings, style)).toContain('to «Tech lead»');
    // A level the path no longer has says nothing.
    expect(timerNotice(incident, { timer: 'escalation', step: 2 }, plan, settings, style)).toBeUndefined();
    expect(timerNotice(incident, { timer: 'status-reminder' }, plan, settings, style)).toBe(
      '[U0LEAD], time for a status update: `/incident status …`',
    );
  });

  it('record what fired, for each medium to word: the deadline, and the levels escalated between', () => {
    expect(timerFired(incident, { timer: 'escalation', step: 1 }, plan)).toEqual({
      timer: 'escalation',
      severity: 'P1',
      commander: 'U0LEAD',
      deadline: '2026-11-24T11:00:00.000Z',
      escalation: { from: 'On-call engineer', to: 'Tech lead', level: 2, groups: [] },
    });
    expect(timerFired(incident, { timer: 'status-reminder' }, plan)).toEqual({
      timer: 'status-reminder',
      severity: 'P1',
      commander: 'U0LEAD',
    });
  });

  it('say nothing once acknowledged, resolved, or when the severity asks for no reminder', () => {
    const acknowledged = { ...incident, acknowledgedAt: new Date() };
    const notice = (subject: typeof acknowledged, timer: TimerRef['timer']) =>
      timerNotice(subject, { timer, ...(timer === 'escalation' ? { step: 1 } : {}) }, plan, settings, style);
    expect(notice(acknowledged, 'response-warning')).toBeUndefined();
    expect(notice(acknowledged, 'escalation')).toBeUndefined();
    expect(notice(acknowledged, 'status-reminder')).toBeDefined();
    expect(
      timerNotice({ ...incident, status: 'resolved' }, { timer: 'status-reminder' }, plan, settings, style),
    ).toBeUndefined();
    const p2 = { ...incident, severity: 'P2' as const };
    expect(
      timerNotice(p2, { timer: 'status-reminder' }, incidentPlan(p2, settings), settings, style),
    ).toBeUndefined();
  });

  it('remind of a status at severities that page, every INCIDENT_STATUS_REMINDER_MINUTES, unless the severity sets its own', () => {
    const reminders = (section: unknown, runbookPolicy: Parameters<typeof severityRule>[1] = undefined) =>
      Object.fromEntries(
        (['P0', 'P1', 'P2', 'P3'] as const).map((severity) => [
          severity,
          incidentPlan(
            { severity, runbookPolicy: runbookPolicy ?? null },
            { ...configured(section), statusReminderMs: 20 * MIN },
          ).rule.statusReminderMs,
        ]),
      );
    // Built in, P0 and P1 page: as before.
    expect(reminders({})).toEqual({ P0: 20 * MIN, P1: 20 * MIN, P2: undefined, P3: undefined });
    // Without the variable, every 30 minutes.
    expect(severityRule({ policy: {} }, undefined, 'P0').statusReminderMs).toBe(30 * MIN);
    // A runbook whose table pages P2 reminds at P2 too; one that pages P1 no more, not at P1.
    const table = {
      severities: [
        { severity: 'P1' as const, responseMs: 5 * MIN, page: false, line: 3 },
        { severity: 'P2' as const, responseMs: 60 * MIN, page: true, line: 4 },
      ],
      milestones: [],
    };
    expect(reminders({}, table)).toEqual({ P0: 20 * MIN, P1: undefined, P2: 20 * MIN, P3: undefined });
    // The policy file's own cadence, or none.
    expect(
      reminders({
        severities: {
          P0: { status_reminder: '10 minutes' },
          P1: { status_reminder: false },
          P3: { status_reminder: '2h' },
        },
      }),
    ).toEqual({ P0: 10 * MIN, P1: undefined, P2: undefined, P3: 120 * MIN });
    const p3 = { ...incident, severity: 'P3' as const };
    const p3Plan = incidentPlan(p3, configured({ severities: { P3: { status_reminder: '2h' } } }));
    expect(timerNotice(p3, { timer: 'status-reminder' }, p3Plan, settings, style)).toBe(
      '[U0LEAD], time for a status update: `/incident status …`',
    );
  });
});

describe('escalation through every level', () => {
  const levels = configured({
    escalation: [
      { name: 'On-call engineer', groups: ['S0ONCALL'] },
      { name: 'Engineering lead', groups: ['S0LEADS'] },
      { name: 'Database admin', groups: ['S0DBA', 'S0DBA2'], after: '30 minutes', severities: ['P0'] },
    ],
    severities: { P3: { escalation: [{ name: 'Support' }, { name: 'Product owner', groups: ['S0PO'] }] } },
  });

  it('reaches each further level a response target (or its own `after`) later, mentioning its groups', () => {
    const p0 = incidentPlan({ ...incident, severity: 'P0' }, levels);
    expect(p0.path.map((level) => level.name)).toEqual([
      'On-call engineer',
      'Engineering lead',
      'Database admin',
    ]);
    expect(
      responseTimerDelays({ declaredAt }, p0, declaredAt.getTime()).filter((t) => t.timer === 'escalation'),
    ).toEqual([
      { timer: 'escalation', step: 1, delayMs: 15 * MIN },
      { timer: 'escalation', step: 2, delayMs: 45 * MIN },
    ]);
    const p0Incident = { ...incident, severity: 'P0' as const };
    expect(timerNotice(p0Incident, { timer: 'escalation', step: 1 }, p0, levels, style)).toBe(
      'The P0 response target has passed with no acknowledgement: escalating from On-call engineer to «Engineering lead». {S0LEADS}',
    );
    expect(timerNotice(p0Incident, { timer: 'escalation', step: 2 }, p0, levels, style)).toBe(
      'Still no acknowledgement of this P0: escalating from Engineering lead to «Database admin» (the last level). {S0DBA} {S0DBA2}',
    );
  });

  it('leaves out levels kept for other severities, and takes a severity its own path', () => {
    expect(incidentPlan(incident, levels).path.map((level) => level.name)).toEqual([
      'On-call engineer',
      'Engineering lead',
    ]);
    const p3 = incidentPlan({ ...incident, severity: 'P3' }, levels);
    expect(p3.path).toEqual([
      { name: 'Support', groups: [] },
      { name: 'Product owner', groups: ['S0PO'] },
    ]);
  });

  it('escalates an "immediate" response target after five minutes unanswered, with no warning before', () => {
    const immediate = configured({ severities: { P0: { response: 'immediate' } } });
    const p0 = incidentPlan({ ...incident, severity: 'P0' }, immediate);
    expect(responseTimerDelays({ declaredAt }, p0, declaredAt.getTime())).toEqual([
      { timer: 'escalation', step: 1, delayMs: 5 * MIN },
      { timer: 'escalation', step: 2, delayMs: 10 * MIN },
    ]);
  });

  it('a severity change cancels every timer any severity could have', () => {
    expect(everyTimer(incident, levels)).toEqual([
      { timer: 'response-warning' },
      { timer: 'escalation', step: 1 },
      { timer: 'escalation', step: 2 },
    ]);
  });
});

describe('severities and response targets', () => {
  const seed004 = {
    severities: [
      { severity: 'P0' as const, responseMs: 0, page: true, line: 7 },
      { severity: 'P1' as const, responseMs: 5 * MIN, page: true, line: 8 },
      { severity: 'P2' as const, responseMs: 60 * MIN, page: false, line: 9 },
    ],
    milestones: [{ severity: 'P1' as const, atMs: 15 * MIN, text: 'Begin diagnostic procedures', line: 20 }],
  };

  it("come from the policy file, then the runbook's table, then the built-in table", () => {
    const none = configured({});
    expect(severityRule(none, seed004, 'P1')).toMatchObject({
      responseMs: 5 * MIN,
      page: true,
      source: 'runbook',
    });
    expect(severityRule(none, seed004, 'P0')).toMatchObject({ responseMs: 0, label: 'P0 Critical' });
    expect(severityRule(none, seed004, 'P3')).toMatchObject({
      responseMs: 24 * 60 * MIN,
      page: false,
      source: 'built-in',
    });
    expect(severityRule(none, undefined, 'P1')).toMatchObject({
      responseMs: 60 * MIN,
      page: true,
      source: 'built-in',
    });
    const file = configured({ severities: { P1: { response: '10 min', label: 'P1 Major', page: false } } });
    expect(severityRule(file, seed004, 'P1')).toMatchObject({
      label: 'P1 Major',
      responseMs: 10 * MIN,
      page: false,
      source: 'policy file',
    });
  });

  it("escalate through the runbook's path where the configuration sets none, saying so", () => {
    const written = {
      ...seed004,
      escalation: [
        { name: 'Check runbook, attempt resolution', line: 30 },
        { name: 'On-call engineer', line: 31 },
        { name: 'Database admin', severities: ['P0' as const], line: 32 },
      ],
    };
    const planOf = (severity: 'P0' | 'P1', section: unknown, names: string[] = []) =>
      incidentPlan(
        { ...incident, severity, runbookPolicy: written },
        { ...configured(section), escalationNames: names },
      );
    const p0 = planOf('P0', {});
    expect([p0.pathSource, p0.path.map((level) => level.name)]).toEqual([
      'runbook',
      ['Check runbook, attempt resolution', 'On-call engineer', 'Database admin'],
    ]);
    // "(P0 only)": a P1 stops at the on-call engineer.
    expect(planOf('P1', {}).path.map((level) => level.name)).toEqual([
      'Check runbook, attempt resolution',
      'On-call engineer',
    ]);
    // The configuration wins: the policy file's levels, or INCIDENT_ESCALATION's names.
    const fromFile = planOf('P0', { escalation: [{ name: 'Ops' }, { name: 'Boss' }] });
    expect([fromFile.pathSource, fromFile.path.map((level) => level.name)]).toEqual([
      'policy file',
      ['Ops', 'Boss'],
    ]);
    const fromVariable = planOf('P0', {}, ['Ops', 'CTO']);
    expect([fromVariable.pathSource, fromVariable.path.map((level) => level.name)]).toEqual([
      'configuration',
      ['Ops', 'CTO'],
    ]);
    // Without any: the built-in path.
    expect(incidentPlan({ ...incident, runbookPolicy: seed004 }, configured({})).pathSource).toBe('built-in');
  });

  it("post the runbook's milestones at their times, or the policy file's instead", () => {
    const p1 = incidentPlan({ ...incident, runbookPolicy: seed004 }, configured({}));
    expect(p1.rule.milestones).toEqual([{ atMs: 15 * MIN, text: 'Begin diagnostic procedures' }]);
    expect(
      responseTimerDelays({ declaredAt }, p1, declaredAt.getTime()).filter((t) => t.timer === 'milestone'),
    ).toEqual([{ timer: 'milestone', step: 0, delayMs: 15 * MIN }]);
    expect(timerNotice(incident, { timer: 'milestone', step: 0 }, p1, settings, style)).toBe(
      'P1 milestone, within 15 min of declaring: «Begin diagnostic procedures»',
    );
    // Past milestones of a severity changed late are not all posted at once.
    expect(
      responseTimerDelays({ declaredAt }, p1, declaredAt.getTime() + 20 * MIN, {
        skipPastMilestones: true,
      }).filter((t) => t.timer === 'milestone'),
    ).toEqual([]);
    const own = configured({ severities: { P1: { milestones: [{ after: 0, say: 'Open a bridge call' }] } } });
    const mine = incidentPlan({ ...incident, runbookPolicy: seed004 }, own);
    expect(mine.rule.milestones).toEqual([{ atMs: 0, text: 'Open a bridge call' }]);
    expect(timerNotice(incident, { timer: 'milestone', step: 0 }, mine, settings, style)).toBe(
      'P1 milestone, right away: «Open a bridge call»',
    );
  });

  it('refuse a bad policy file section with what to write instead', () => {
    const problems = (section: unknown) => {
      const parsed = incidentPolicySchema.safeParse(section);
      return parsed.success ? '' : formatZodIssues(parsed.error);
    };
    expect(problems({ severities: { P1: { status_reminder: '30 seconds' } } })).toContain(
      'severities.P1.status_reminder: a status reminder comes at most every minute: write "15 minutes", "1h", or false for none',
    );
    expect(problems({ severities: { P1: { response: 'soonish' } } })).toContain(
      'severities.P1.response: "soonish" is not a duration: write "immediate", "5 minutes", "1h", "2 days" or a number of minutes',
    );
    expect(problems({ severities: { P5: {} } })).toContain(
      'severities.P5: invalid name: a severity is one of P0, P1, P2, P3',
    );
    expect(problems({ escalation: [{ name: 'Leads', groups: ['@leads'] }] })).toContain(
      'escalation.0.groups.0: must be a Slack user group id such as S0123ABCD',
    );
    expect(problems({ escalation: [{ name: 'Leads', severities: ['high'] }] })).toContain(
      'escalation.0.severities.0: must be one of P0, P1, P2, P3',
    );
    expect(problems({ escalations: [] })).toContain('unknown key "escalations"');
  });
});

describe('incident channels', () => {
  it('are named after the date and the title, with the attempt when a name is taken, within 80 characters', () => {
    expect(incidentChannelName(incident, 'UTC', 1)).toBe('inc-20261124-checkout-failing-502s');
    expect(incidentChannelName(incident, 'UTC', 3)).toBe('inc-20261124-checkout-failing-502s-3');
    expect(incidentChannelName({ ...incident, title: '!!!' }, 'UTC', 1)).toBe('inc-20261124-incident-7');
    const long = incidentChannelName({ ...incident, title: 'x'.repeat(200) }, 'UTC', 12);
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long).toMatch(/-12$/);
  });

  it('are created only in create mode, and only once', () => {
    const inOrigin = { channelId: 'C0ORIGIN', originChannel: 'C0ORIGIN' };
    expect(needsOwnChannel(inOrigin, { channelMode: 'create' })).toBe(true);
    expect(needsOwnChannel(inOrigin, { channelMode: 'current' })).toBe(false);
    expect(needsOwnChannel({ ...inOrigin, channelId: 'C0INC' }, { channelMode: 'create' })).toBe(false);
  });
});

describe('timers in the audit trail', () => {
  it('word an escalation to a later level and a milestone, from what was recorded', () => {
    const p0 = incidentPlan(
      { ...incident, severity: 'P0' },
      configured({
        escalation: [{ name: 'On-call' }, { name: 'Lead' }, { name: 'DBA', groups: ['S0DBA'] }],
        severities: { P0: { milestones: [{ after: '10 min', say: 'Notify stakeholders' }] } },
      }),
    );
    const p0Incident = { ...incident, severity: 'P0' as const };
    const escalated = timerFired(p0Incident, { timer: 'escalation', step: 2 }, p0);
    expect(escalated.escalation).toEqual({ from: 'Lead', to: 'DBA', level: 3, groups: ['S0DBA'] });
    expect(
      plainText(
        describeAuditEvent({
          kind: 'incident_timer',
          actor: 'runbook-bot',
          requestId: undefined,
          data: { ...escalated },
        }),
      ),
    ).toBe('P0 response target passed with no acknowledgement: escalated from Lead to DBA');
    const milestone = timerFired(p0Incident, { timer: 'milestone', step: 0 }, p0);
    expect(milestone).toEqual({
      timer: 'milestone',
      severity: 'P0',
      commander: 'U0LEAD',
      milestone: { atMs: 10 * MIN, text: 'Notify stakeholders' },
    });
    expect(
      plainText(
        describeAuditEvent({
          kind: 'incident_timer',
          actor: 'runbook-bot',
          requestId: undefined,
          data: { ...milestone },
        }),
      ),
    ).toBe('P0 milestone at 10 min: Notify stakeholders');
  });
});
