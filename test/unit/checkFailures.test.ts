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
});
