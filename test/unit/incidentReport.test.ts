import { describe, expect, it } from 'vitest';
import type { IncidentReportInput } from '../../src/incidents/model.js';
import { composeIncidentReport } from '../../src/incidents/reportDraft.js';

function input(overrides: Partial<IncidentReportInput> = {}): IncidentReportInput {
  return {
    incident: {
      id: '5edf9881-b283-4e1a-b32e-a1b68ba0206e',
      number: 42,
      title: 'Checkout failing',
      severity: 'P1',
      status: 'resolved',
      declaredBy: 'U0DECLARER',
      commander: 'U0LEAD',
      channelId: 'CINC',
      rootTs: '1.2',
      declaredAt: new Date('2026-11-24T09:05:00Z'),
      acknowledgedAt: new Date('2026-11-24T09:07:00Z'),
      resolvedAt: new Date('2026-11-24T10:28:00Z'),
      statusText: null,
      summary: 'Pool size lowered',
      suggestedProcedures: ['postgres-health#connection-pool-exhaustion'],
      target: 'prod',
    },
    timeline: [
      {
        at: new Date('2026-11-24T09:05:00Z'),
        kind: 'incident_declared',
        actor: 'U0DECLARER',
        text: 'declared INC-42',
      },
      {
        at: new Date('2026-11-24T09:30:00Z'),
        kind: 'incident_updated',
        actor: 'U0LEAD',
        text: 'status: a | b\nsecond line',
      },
    ],
    findings: [
      { target: 'prod', title: 'Idle in transaction', status: 'warn', summary: '2 sessions' },
      { target: 'prod', title: 'Connections', status: 'critical', summary: '98% of max_connections' },
    ],
    matchedProcedure: {
      id: 'postgres-health#connection-pool-exhaustion',
      title: 'Connection pool exhaustion',
      rootCause: 'Application pools larger than max_connections.',
      prevention: 'Size pools under max_connections.',
    },
    remediations: [
      {
        title: 'End long-idle sessions',
        target: 'prod',
        sql: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = $1',
        params: ['idle'],
        status: 'succeeded',
        summary: 'terminated 12 backends',
        approvers: ['U0SECOND'],
        verification: { before: 'in_use=98', after: 'in_use=40' },
        at: new Date('2026-11-24T10:00:00Z'),
      },
    ],
    rolledBack: ['the 14:00 deploy'],
    timeZone: 'Europe/Berlin',
    now: new Date('2026-11-24T11:00:00Z'),
    ...overrides,
  };
}

describe('incident report draft', () => {
  it('has the seed template sections in order, from the record, in the configured time zone', () => {
    const { markdown, json, filename } = composeIncidentReport(input());
    const headings = [
      '## Date: 2026-11-24',
      '## Severity: P1 High',
      '### What Broke',
      '### Root Cause',
      '### Impact',
      '### Fix Applied',
      '### What Was Rolled Back',
      '### Prevention',
      '### Timeline',
    ];
    const positions = headings.map((heading) => markdown.indexOf(heading));
    expect(positions.every((position) => position >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(markdown).toContain('Declared 2026-11-24 10:05 GMT+1');
    expect(markdown).toContain('- Duration: 1 h 23 min');
    expect(markdown).toContain('Application pools larger than max_connections.');
    expect(markdown).toContain(
      'suggested by runbook `postgres-health#connection-pool-exhaustion`, not confirmed',
    );
    expect(markdown).toContain('```sql\nSELECT pg_terminate_backend(pid)');
    expect(markdown).toContain('`$1` = `idle`');
    expect(markdown).toContain('- the 14:00 deploy');
    expect(markdown).toContain('- prod: Connections (critical): 98% of max_connections');
    expect(markdown).toContain('| status: a \\| b second line |');
    expect(json.sections.impact.durationMinutes).toBe(83);
    expect(json.timeline).toHaveLength(2);
    expect(filename).toBe('incident-42-2026-11-24.md');
  });

  it('never invents a root cause, and says an open incident is still open', () => {
    const { markdown } = composeIncidentReport(
      input({
        matchedProcedure: undefined,
        remediations: [],
        rolledBack: [],
        incident: { ...input().incident, status: 'open', resolvedAt: null },
      }),
    );
    expect(markdown).toContain('_Not determined yet: the commander fills this in._');
    expect(markdown).toContain('- Duration: 1 h 55 min (still open)');
    expect(markdown).toContain('No remediation was executed through runbook-bot.');
    expect(markdown).toContain('Nothing recorded.');
  });

  it('writes times in another zone when asked', () => {
    expect(composeIncidentReport(input({ timeZone: 'America/New_York' })).markdown).toContain(
      'Declared 2026-11-24 04:05 GMT-5',
    );
  });
});
