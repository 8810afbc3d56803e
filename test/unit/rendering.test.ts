import { describe, expect, it } from 'vitest';
import { rootBlocker } from '../../src/health/checks/locks.js';
import { overallStatus } from '../../src/health/engine.js';
import type { Finding, HealthReport } from '../../src/health/types.js';
import { exitCodeFor } from '../../src/terminal/exitCodes.js';
import { renderHealthReport } from '../../src/terminal/healthTable.js';

function finding(overrides: Partial<Finding>): Finding {
  return {
    id: 'idle_in_transaction',
    title: 'Idle',
    status: 'ok',
    summary: 'fine',
    threshold: null,
    evidence: [],
    evidenceTotal: 0,
    remediation: null,
    durationMs: 1,
    ...overrides,
  };
}

describe('report rendering', () => {
  it('shows problems first with evidence, says when evidence was cut, and names the next step', () => {
    const evidence = Array.from({ length: 10 }, (_, i) => ({
      pid: 100 + i,
      query: `UPDATE t SET x = ${i}`.repeat(10),
    }));
    const report: HealthReport = {
      target: 'prod',
      status: 'warn',
      startedAt: '2026-01-01T00:00:00Z',
      durationMs: 12,
      serverVersion: '16.2',
      findings: [
        finding({ id: 'connections', summary: '3 client connections' }),
        finding({
          status: 'warn',
          summary: '37 sessions idle in a transaction',
          evidence,
          evidenceTotal: 37,
          remediation: {
            procedure: 'postgres-health#terminate-idle-in-transaction',
            text: 'Terminate them.',
          },
        }),
      ],
    };
    const text = renderHealthReport(report, { color: false });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Health of prod: WARN (PostgreSQL 16.2, 2 checks in 12 ms)');
    expect(text.indexOf('idle_in_transaction')).toBeLessThan(text.indexOf('connections'));
    expect(text).toContain('… 5 of 37 shown (--json has 10)');
    expect(text).toContain('→ Terminate them. [postgres-health#terminate-idle-in-transaction]');
    expect(lines.every((line) => !line.includes('\u001b'))).toBe(true);
    expect(text).toContain('…');
  });

  it('prints the one reason for an unreachable target', () => {
    const text = renderHealthReport(
      {
        target: 'prod',
        status: 'unreachable',
        unreachable: 'connection refused by db:5432',
        startedAt: '',
        durationMs: 3,
        serverVersion: null,
        findings: [],
      },
      { color: false },
    );
    expect(text).toContain('unreachable: connection refused by db:5432');
  });

  it('rolls findings up: errors need a look (warn), skipped checks do not', () => {
    expect(overallStatus([finding({ status: 'ok' }), finding({ status: 'skipped' })])).toBe('ok');
    expect(overallStatus([finding({ status: 'error' })])).toBe('warn');
    expect(overallStatus([finding({ status: 'warn' }), finding({ status: 'critical' })])).toBe('critical');
    expect([
      exitCodeFor('ok'),
      exitCodeFor('warn'),
      exitCodeFor('critical'),
      exitCodeFor('unreachable'),
    ]).toEqual([0, 1, 2, 4]);
  });

  it('follows blocking links to the head of the chain, even through a cycle', () => {
    const links = new Map([
      [3, [2]],
      [2, [1]],
    ]);
    expect(rootBlocker(3, links)).toBe(1);
    expect(
      rootBlocker(
        5,
        new Map([
          [5, [6]],
          [6, [5]],
        ]),
      ),
    ).toBe(5);
  });
});
