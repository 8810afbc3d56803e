import { describe, expect, it } from 'vitest';
import {
  decideTransition,
  type RequestEvent,
  type RequestFacts,
  type RequestStatus,
} from '../../src/approvals/requestStateMachine.js';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const later = (ms: number) => new Date(NOW + ms);

function request(status: RequestStatus, facts: Partial<RequestFacts> = {}): RequestFacts {
  return { status, expiresAt: null, executeBy: null, approvers: [], requiredApprovals: 1, ...facts };
}

const STATUSES: RequestStatus[] = [
  'previewed',
  'pending',
  'approved',
  'rejected',
  'expired',
  'lapsed',
  'executing',
  'succeeded',
  'nothing_done',
  'failed',
  'aborted',
  'changed',
  'outcome_unknown',
];

/** Each event with facts under which it goes through from the statuses it leaves. */
const EVENTS: Array<[RequestEvent, Partial<RequestFacts>, RequestStatus[], RequestStatus]> = [
  [{ kind: 'requestApproval' }, {}, ['previewed'], 'pending'],
  [{ kind: 'approve', approver: 'U0B' }, { expiresAt: later(60_000) }, ['pending'], 'approved'],
  [{ kind: 'reject' }, {}, ['previewed', 'pending'], 'rejected'],
  [{ kind: 'expire' }, { expiresAt: later(-1) }, ['pending'], 'expired'],
  [{ kind: 'lapse' }, { executeBy: later(-1) }, ['approved'], 'lapsed'],
  [{ kind: 'startExecution' }, { executeBy: later(60_000) }, ['approved'], 'executing'],
  [{ kind: 'finishExecution', status: 'failed' }, {}, ['executing'], 'failed'],
  [{ kind: 'finishExecution', status: 'nothing_done' }, {}, ['executing'], 'nothing_done'],
];

describe('the request state machine', () => {
  describe.each(EVENTS)('%o', (event, facts, from, to) => {
    it.each(STATUSES)('from %s', (status) => {
      const decision = decideTransition(request(status, facts), event, NOW);
      if (from.includes(status)) expect(decision).toEqual({ ok: true, from: status, to });
      else
        expect(decision).toMatchObject({
          ok: false,
          reason: expect.stringMatching(/^This request|^Approval has not/),
        });
    });
  });

  it('says why a click does nothing in each status it cannot leave', () => {
    const reasons = Object.fromEntries(
      STATUSES.map((status) => [status, decideTransition(request(status), { kind: 'requestApproval' }, NOW)]),
    );
    expect(reasons).toMatchObject({
      pending: { ok: false, reason: 'This request is waiting for approval.' },
      approved: {
        ok: false,
        reason: 'This request is already approved; it runs as soon as a worker takes it.',
      },
      executing: { ok: false, reason: 'This request is already approved and executing.' },
      rejected: { ok: false, reason: 'This request was rejected.' },
      expired: { ok: false, reason: 'This request has expired; preview the action again.' },
      lapsed: {
        ok: false,
        reason:
          'This request was approved, but its execution window passed before it could run; preview the action again.',
      },
      outcome_unknown: { ok: false, reason: 'This request has already run (outcome unknown).' },
      nothing_done: { ok: false, reason: 'This request has already run (nothing done).' },
    });
  });

  it('offers a blocked plan (nothing to do, over a limit) no approval, but lets it be discarded', () => {
    const blocked = request('previewed', { blocked: 'it would change no rows' });
    expect(decideTransition(blocked, { kind: 'requestApproval' }, NOW)).toEqual({
      ok: false,
      reason: 'This plan cannot be approved: it would change no rows.',
    });
    expect(decideTransition(blocked, { kind: 'reject' }, NOW)).toEqual({
      ok: true,
      from: 'previewed',
      to: 'rejected',
    });
    expect(
      decideTransition(request('previewed', { blocked: null }), { kind: 'requestApproval' }, NOW),
    ).toEqual({ ok: true, from: 'previewed', to: 'pending' });
  });

  it('refuses any event on a request that does not exist', () => {
    expect(decideTransition(undefined, { kind: 'reject' }, NOW)).toEqual({
      ok: false,
      reason: 'That request no longer exists.',
    });
  });

  it('counts approvals: pending until the required number, then approved; the same person once', () => {
    const two = (approvers: string[]) =>
      request('pending', { requiredApprovals: 2, approvers, expiresAt: later(60_000) });
    expect(decideTransition(two([]), { kind: 'approve', approver: 'U0A' }, NOW)).toEqual({
      ok: true,
      from: 'pending',
      to: 'pending',
    });
    expect(decideTransition(two(['U0A']), { kind: 'approve', approver: 'U0A' }, NOW)).toEqual({
      ok: false,
      reason: 'You have already approved this request.',
    });
    expect(decideTransition(two(['U0A']), { kind: 'approve', approver: 'U0B' }, NOW)).toEqual({
      ok: true,
      from: 'pending',
      to: 'approved',
    });
  });

  it('refuses an approval once its time is up, at the very deadline too', () => {
    expect(
      decideTransition(
        request('pending', { expiresAt: later(0) }),
        { kind: 'approve', approver: 'U0A' },
        NOW,
      ),
    ).toEqual({ ok: false, reason: 'This request has expired; preview the action again.' });
  });

  it('does not expire or lapse early, and says when it will be due', () => {
    expect(decideTransition(request('pending', { expiresAt: later(5000) }), { kind: 'expire' }, NOW)).toEqual(
      {
        ok: false,
        reason: 'Its time is not up yet.',
        dueInMs: 5000,
      },
    );
    expect(decideTransition(request('approved', { executeBy: later(1) }), { kind: 'lapse' }, NOW)).toEqual({
      ok: false,
      reason: 'Its time is not up yet.',
      dueInMs: 1,
    });
    // Without a deadline it is never due.
    expect(decideTransition(request('pending'), { kind: 'expire' }, NOW)).toMatchObject({
      ok: false,
      dueInMs: Number.POSITIVE_INFINITY,
    });
  });

  it('does not start an execution after its window: it is to be lapsed instead', () => {
    expect(
      decideTransition(request('approved', { executeBy: later(0) }), { kind: 'startExecution' }, NOW),
    ).toEqual({
      ok: false,
      reason: 'The execution window after approval has passed; preview the action again.',
      windowPassed: true,
    });
  });
});
