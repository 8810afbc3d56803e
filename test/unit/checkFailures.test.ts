import { describe, expect, it } from 'vitest';
import { describeCheckFailure } from '../../src/health/failures.js';

describe('describeCheckFailure', () => {
  it('states a timeout in whole milliseconds, whatever budget arithmetic left', () => {
    const limits = { statementTimeoutMs: 793.2205319999994, lockTimeoutMs: 2000, role: 'bot' };
    expect(describeCheckFailure({ code: '57014' }, limits).summary).toBe(
      'timed out after 793 ms (statement_timeout)',
    );
    expect(describeCheckFailure({ code: '55P03' }, limits).summary).toContain('(lock_timeout 2000 ms)');
  });

  it('tells a cancel from a statement timeout, though both are SQLSTATE 57014', () => {
    const limits = { statementTimeoutMs: 5000, lockTimeoutMs: 1000, role: 'bot' };
    const cancelled = { code: '57014', message: 'canceling statement due to user request' };
    expect(describeCheckFailure(cancelled, limits).summary).toMatch(/^cancelled \(pg_cancel_backend\)/);
    const timedOut = { code: '57014', message: 'canceling statement due to statement timeout' };
    expect(describeCheckFailure(timedOut, limits).summary).toBe(
      'timed out after 5000 ms (statement_timeout)',
    );
  });
});
