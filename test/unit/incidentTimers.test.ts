import { describe, expect, it } from 'vitest';
import { incidentChannelName, needsOwnChannel } from '../../src/incidents/channels.js';
import type { NoticeStyle } from '../../src/incidents/escalation.js';
import { responseTimerDelays, timerFired, timerNotice } from '../../src/incidents/timers.js';

const declaredAt = new Date('2026-11-24T10:00:00Z');
const incident = {
  status: 'open' as const,
  severity: 'P1' as const,
  declaredAt,
  commander: 'U0LEAD',
  acknowledgedAt: null,
  title: 'Checkout failing: 502s!',
  number: 7,
};
const settings = { escalation: ['On-call engineer', 'Tech lead'], timeZone: 'UTC' };
const style: NoticeStyle = { mention: (user) => `[${user}]`, strong: (text) => `«${text}»` };

describe('incident timers', () => {
  it('warn at three quarters of the response target and escalate when it passes, counted from the declaration', () => {
    // P1: one hour. Ten minutes in, the warning is 35 minutes away and the escalation 50.
    expect(responseTimerDelays(incident, declaredAt.getTime() + 10 * 60_000)).toEqual([
      ['response-warning', 35 * 60_000],
      ['escalation', 50 * 60_000],
    ]);
    // Long overdue (a timer scheduled again after the fact): due now, never negative.
    expect(responseTimerDelays(incident, declaredAt.getTime() + 5 * 3600_000)).toEqual([
      ['response-warning', 0],
      ['escalation', 0],
    ]);
  });

  it('say who is warned and to whom it escalates, in the style of the medium', () => {
    expect(timerNotice(incident, 'response-warning', settings, style)).toBe(
      'P1 High response target passes at 2026-11-24 11:00 GMT+0 and nobody has acknowledged or acted yet. [U0LEAD]',
    );
    expect(timerNotice(incident, 'escalation', settings, style)).toBe(
      'The P1 response target has passed with no acknowledgement: escalating from On-call engineer to «Tech lead».',
    );
    expect(timerNotice(incident, 'escalation', { ...settings, escalation: [] }, style)).toMatch(
      /from on-call to «the next level»\.$/,
    );
    expect(timerNotice(incident, 'status-reminder', settings, style)).toBe(
      '[U0LEAD], time for a status update: `/incident status …`',
    );
  });

  it('record what fired, for each medium to word: the deadline, and the levels escalated between', () => {
    expect(timerFired(incident, 'escalation', settings)).toEqual({
      timer: 'escalation',
      severity: 'P1',
      commander: 'U0LEAD',
      deadline: '2026-11-24T11:00:00.000Z',
      escalation: { from: 'On-call engineer', to: 'Tech lead' },
    });
    expect(timerFired(incident, 'status-reminder', settings)).toEqual({
      timer: 'status-reminder',
      severity: 'P1',
      commander: 'U0LEAD',
    });
  });

  it('say nothing once acknowledged, resolved, or when the severity asks for no reminder', () => {
    const acknowledged = { ...incident, acknowledgedAt: new Date() };
    expect(timerNotice(acknowledged, 'response-warning', settings, style)).toBeUndefined();
    expect(timerNotice(acknowledged, 'escalation', settings, style)).toBeUndefined();
    expect(timerNotice(acknowledged, 'status-reminder', settings, style)).toBeDefined();
    expect(
      timerNotice({ ...incident, status: 'resolved' }, 'status-reminder', settings, style),
    ).toBeUndefined();
    expect(timerNotice({ ...incident, severity: 'P2' }, 'status-reminder', settings, style)).toBeUndefined();
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
