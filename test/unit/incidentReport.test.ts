import { describe, expect, it } from 'vitest';
import type { IncidentReportInput } from '../../src/incidents/model.js';
import {
  composeIncidentReport,
  humanDuration,
  NO_REMEDIATION,
  PREVENTION_PLACEHOLDER,
  peopleInReport,
  ROOT_CAUSE_PLACEHOLDER,
} from '../../src/incidents/reportDraft.js';

const PROCEDURE_ID = 'postgres-health#connection-pool-exhaustion';
const ROOT_CAUSE = 'Application pools sized larger than max_connections.';
const PREVENTION = 'Size every application pool below max_connections and alert at 80%.';

function input(overrides: Partial<IncidentReportInput> = {}): IncidentReportInput {
  const at = (time: string) => new Date(`2026-11-24T${time}:00Z`);
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
      rootTs: '1764000000.000100',
      declaredAt: at('09:05'),
      acknowledgedAt: at('09:07'),
      resolvedAt: at('10:28'),
      statusText: 'Pool size lowered, watching',
      summary: 'Connection pool exhaustion after the 09:00 deploy',
      suggestedProcedures: [PROCEDURE_ID],
      target: 'prod',
    },
    timeline: [
      { at: at('09:05'), kind: 'incident_declared', actor: 'U0DECLARER', what: ['declared INC-42 (P1)'] },
      { at: at('09:07'), kind: 'incident_updated', actor: 'U0LEAD', what: ['took command'] },
      { at: at('09:12'), kind: 'run_started', actor: 'U0LEAD', what: ['ran health on prod'] },
      {
        at: at('09:30'),
        kind: 'incident_updated',
        actor: 'U0LEAD',
        what: ['status: pool a | pool b full\nsecond line'],
      },
      {
        at: at('09:52'),
        kind: 'action_requested',
        actor: 'U0LEAD',
        what: ['requested End long-idle sessions'],
      },
      {
        at: at('09:58'),
        kind: 'action_approved',
        actor: 'U0SECOND',
        what: ['approved End long-idle sessions'],
      },
      { at: at('10:00'), kind: 'action_executed', actor: 'runbook-bot', what: ['terminated 12 backends'] },
      { at: at('10:28'), kind: 'incident_resolved', actor: 'U0LEAD', what: ['resolved INC-42'] },
    ],
    findings: [
      { target: 'prod', title: 'Idle in transaction', status: 'warn', summary: '2 sessions over 5 min' },
      { target: 'prod', title: 'Connections', status: 'critical', summary: '98% of max_connections' },
    ],
    matchedProcedure: {
      id: PROCEDURE_ID,
      title: 'Connection pool exhaustion',
      rootCause: ROOT_CAUSE,
      prevention: PREVENTION,
    },
    remediations: [
      {
        title: 'End long-idle sessions',
        target: 'prod',
        sql: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity\nWHERE state = $1 AND now() - state_change > $2::interval',
        params: ['idle', '5 minutes'],
        status: 'succeeded',
        summary: 'terminated 12 backends',
        approvers: ['U0SECOND', 'U0THIRD'],
        verification: { before: 'in_use=98%', after: 'in_use=40%' },
        at: at('10:00'),
      },
    ],
    rolledBack: ['Migration 20261124_0900 (deploy of 09:00)'],
    timeZone: 'Europe/Berlin',
    now: at('11:00'),
    ...overrides,
  };
}

function openIncident(): IncidentReportInput {
  const base = input();
  return { ...base, incident: { ...base.incident, status: 'open', resolvedAt: null } };
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`### ${heading}\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const next = markdown.indexOf('\n### ', start + 4);
  return markdown.slice(start, next < 0 ? undefined : next);
}

function tableRows(markdown: string): string[] {
  return section(markdown, 'Timeline')
    .split('\n')
    .filter((line) => line.startsWith('| '))
    .slice(2); // the header and the delimiter row
}

describe('incident report draft', () => {
  it('has the seed template sections in order, then the timeline', () => {
    const { markdown, filename } = composeIncidentReport(input());
    const headings = [
      '# Incident Report: INC-42 Checkout failing\n',
      '## Date: 2026-11-24\n',
      '## Severity: P1 High\n',
      '### What Broke\n',
      '### Root Cause\n',
      '### Impact\n',
      '### Fix Applied\n',
      '### What Was Rolled Back\n',
      '### Prevention\n',
      '### Timeline\n',
    ];
    const positions = headings.map((heading) => markdown.indexOf(heading));
    for (const [i, position] of positions.entries()) expect(position, headings[i]).toBeGreaterThanOrEqual(0);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(markdown.startsWith('# Incident Report: INC-42 Checkout failing\n')).toBe(true);
    expect(filename).toBe('incident-42-2026-11-24.md');
  });

  it('puts commander and final status near the top, in Berlin time', () => {
    const { markdown } = composeIncidentReport(input());
    const top = markdown.slice(0, markdown.indexOf('### What Broke'));
    expect(top).toContain('- Commander: @U0LEAD\n');
    expect(top).toContain('- Declared: 2026-11-24 10:05 CET by @U0DECLARER\n');
    expect(top).toContain('- Status: resolved 2026-11-24 11:28 CET\n');
    expect(top).toContain('- Latest status: Pool size lowered, watching\n');
    expect(top).toContain('- Summary: Connection pool exhaustion after the 09:00 deploy\n');
    expect(top).toContain('- Times are in Europe/Berlin (UTC+1 on the declare date).');
  });

  it('lists what broke, critical findings first', () => {
    const broke = section(composeIncidentReport(input()).markdown, 'What Broke');
    expect(broke).toBe(
      [
        '### What Broke',
        'Checkout failing',
        '',
        '- prod: Connections — 98% of max_connections',
        '- prod: Idle in transaction — 2 sessions over 5 min',
        '',
      ].join('\n'),
    );
  });

  it('marks the runbook root cause and prevention as suggestions', () => {
    const { markdown } = composeIncidentReport(input());
    const suggested = `_(suggested by runbook \`${PROCEDURE_ID}\`, not confirmed)_`;
    expect(section(markdown, 'Root Cause')).toBe(`### Root Cause\n${ROOT_CAUSE}\n\n${suggested}\n`);
    expect(section(markdown, 'Prevention')).toBe(`### Prevention\n${PREVENTION}\n\n${suggested}\n`);
  });

  it('states the impact: unknowns to fill in, the duration and the findings', () => {
    expect(section(composeIncidentReport(input()).markdown, 'Impact')).toBe(
      [
        '### Impact',
        '- Users affected: unknown (fill in)',
        '- Duration: 1 h 23 min, from 2026-11-24 10:05 CET to 2026-11-24 11:28 CET',
        '- Data lost: unknown (fill in)',
        '- Findings recorded: 2 (1 critical, 1 warn)',
        '',
      ].join('\n'),
    );
  });

  it('shows the fix applied with fenced SQL, bound values, approvers and verification', () => {
    const fix = section(composeIncidentReport(input()).markdown, 'Fix Applied');
    expect(fix).toBe(
      [
        '### Fix Applied',
        '#### End long-idle sessions',
        '- Target: prod',
        '- Status: succeeded (2026-11-24 11:00 CET)',
        '- Approved by: @U0SECOND, @U0THIRD',
        '- Outcome: terminated 12 backends',
        '- Verification before: in_use=98%',
        '- Verification after: in_use=40%',
        '',
        '```sql',
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
        'WHERE state = $1 AND now() - state_change > $2::interval',
        '```',
        '',
        'Bound values:',
        "- `$1 = 'idle'`",
        "- `$2 = '5 minutes'`",
        '',
      ].join('\n'),
    );
    expect(fix).not.toContain('<@');
  });

  it('lists what was rolled back', () => {
    expect(section(composeIncidentReport(input()).markdown, 'What Was Rolled Back')).toBe(
      '### What Was Rolled Back\n- Migration 20261124_0900 (deploy of 09:00)\n',
    );
  });

  it('writes the timeline as a table, one row per entry, cells escaped', () => {
    const { markdown } = composeIncidentReport(input());
    expect(section(markdown, 'Timeline')).toContain(
      '| Time (Europe/Berlin) | Who | What |\n| --- | --- | --- |\n',
    );
    const rows = tableRows(markdown);
    expect(rows).toHaveLength(8);
    expect(rows[0]).toBe('| 2026-11-24 10:05 CET | @U0DECLARER | declared INC-42 (P1) |');
    expect(rows[3]).toBe(
      '| 2026-11-24 10:30 CET | @U0LEAD | status: pool a \\| pool b full<br>second line |',
    );
    expect(rows[6]).toBe('| 2026-11-24 11:00 CET | runbook-bot | terminated 12 backends |');
    expect(rows[7]).toBe('| 2026-11-24 11:28 CET | @U0LEAD | resolved INC-42 |');
    // Every row has exactly three cells: no unescaped pipe split one.
    for (const row of rows) expect(row.split(/(?<!\\)\|/)).toHaveLength(5);
  });

  it('names people by their names, or their ids when unknown: the draft is read outside Slack', () => {
    const named = input({
      timeline: [
        {
          at: new Date('2026-11-24T09:05:00Z'),
          kind: 'incident_declared',
          actor: 'U0DECLARER',
          what: [{ person: 'U0DECLARER' }, ' declared INC-42'],
        },
        {
          at: new Date('2026-11-24T09:07:00Z'),
          kind: 'incident_updated',
          actor: 'U0DECLARER',
          what: [{ person: 'U0DECLARER' }, ' handed command to ', { person: 'U0GHOST' }],
        },
      ],
      people: { U0DECLARER: 'dana', U0LEAD: 'lee', U0SECOND: 'sam' },
    });
    const { markdown, json } = composeIncidentReport(named);
    expect(markdown).toContain('- Commander: @lee\n');
    expect(markdown).toContain('by @dana\n');
    expect(markdown).toContain('- Approved by: @sam, @U0THIRD');
    const rows = tableRows(markdown);
    expect(rows[0]).toBe('| 2026-11-24 10:05 CET | @dana | @dana declared INC-42 |');
    // Someone Slack could not name stays an id rather than disappearing.
    expect(rows[1]).toBe('| 2026-11-24 10:07 CET | @dana | @dana handed command to @U0GHOST |');
    expect(json.timeline[1]?.text).toBe('@dana handed command to @U0GHOST');
    expect(peopleInReport(named).sort()).toEqual(['U0DECLARER', 'U0GHOST', 'U0LEAD', 'U0SECOND', 'U0THIRD']);
  });

  it('names the severity as the organisation does, when its policy file or runbook labels it', () => {
    const { markdown, json } = composeIncidentReport({ ...input(), severityLabel: 'P1 Major outage' });
    expect(markdown).toContain('## Severity: P1 Major outage');
    expect(json.sections.severity).toBe('P1 Major outage');
  });

  it('mirrors the content in JSON with ISO and local times', () => {
    const { json } = composeIncidentReport(input());
    expect(json.incident).toMatchObject({
      reference: 'INC-42',
      number: 42,
      severity: 'P1',
      status: 'resolved',
      commander: 'U0LEAD',
      declaredAt: '2026-11-24T09:05:00.000Z',
      declaredAtLocal: '2026-11-24 10:05 CET',
      resolvedAt: '2026-11-24T10:28:00.000Z',
      resolvedAtLocal: '2026-11-24 11:28 CET',
    });
    expect(json.timeZone).toBe('Europe/Berlin');
    expect(json.sections.date).toBe('2026-11-24');
    expect(json.sections.severity).toBe('P1 High');
    expect(json.sections.whatBroke.findings.map((finding) => finding.status)).toEqual(['critical', 'warn']);
    expect(json.sections.rootCause).toEqual({ text: ROOT_CAUSE, suggested: true, procedureId: PROCEDURE_ID });
    expect(json.sections.prevention).toEqual({
      text: PREVENTION,
      suggested: true,
      procedureId: PROCEDURE_ID,
    });
    expect(json.sections.impact).toEqual({
      usersAffected: 'unknown (fill in)',
      duration: '1 h 23 min',
      durationMinutes: 83,
      stillOpen: false,
      until: '2026-11-24T10:28:00.000Z',
      dataLost: 'unknown (fill in)',
      findings: [
        'prod: Connections — 98% of max_connections',
        'prod: Idle in transaction — 2 sessions over 5 min',
      ],
    });
    expect(json.sections.fixApplied).toEqual([
      expect.objectContaining({
        title: 'End long-idle sessions',
        status: 'succeeded',
        params: ['idle', '5 minutes'],
        approvers: ['U0SECOND', 'U0THIRD'],
        verification: { before: 'in_use=98%', after: 'in_use=40%' },
        at: '2026-11-24T10:00:00.000Z',
        local: '2026-11-24 11:00 CET',
      }),
    ]);
    expect(json.sections.rolledBack).toEqual(['Migration 20261124_0900 (deploy of 09:00)']);
    expect(json.timeline).toHaveLength(8);
    expect(json.timeline[3]).toEqual({
      at: '2026-11-24T09:30:00.000Z',
      local: '2026-11-24 10:30 CET',
      kind: 'incident_updated',
      actor: 'U0LEAD',
      text: 'status: pool a | pool b full\nsecond line',
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('says an open incident is still open and measures to now', () => {
    const { markdown, json, filename } = composeIncidentReport(openIncident());
    // Not the name the report written at resolve will have: both go to the same thread.
    expect(filename).toBe('incident-42-2026-11-24-draft-1200.md');
    expect(markdown).toContain('- Status: still open (draft written 2026-11-24 12:00 CET)\n');
    expect(markdown).toContain(
      '- Duration: 1 h 55 min (still open), from 2026-11-24 10:05 CET to 2026-11-24 12:00 CET\n',
    );
    expect(json.incident.resolvedAt).toBeNull();
    expect(json.sections.impact).toMatchObject({
      duration: '1 h 55 min',
      durationMinutes: 115,
      stillOpen: true,
      until: '2026-11-24T11:00:00.000Z',
    });
  });

  it('never invents: placeholders without a matched procedure, remediation, rollback or findings', () => {
    const { markdown, json } = composeIncidentReport(
      input({ matchedProcedure: undefined, remediations: [], rolledBack: [], findings: [] }),
    );
    expect(section(markdown, 'Root Cause')).toBe(`### Root Cause\n${ROOT_CAUSE_PLACEHOLDER}\n`);
    expect(section(markdown, 'Prevention')).toBe(`### Prevention\n${PREVENTION_PLACEHOLDER}\n`);
    expect(section(markdown, 'Fix Applied')).toBe(`### Fix Applied\n${NO_REMEDIATION}\n`);
    expect(section(markdown, 'What Was Rolled Back')).toBe('### What Was Rolled Back\nNothing recorded.\n');
    expect(section(markdown, 'What Broke')).toContain('No critical or warning findings were recorded');
    expect(markdown).not.toContain('suggested by runbook');
    expect(markdown).not.toContain(ROOT_CAUSE);
    expect(json.sections.rootCause).toEqual({ text: null, suggested: false, procedureId: null });
    expect(json.sections.prevention).toEqual({ text: null, suggested: false, procedureId: null });
    expect(json.sections.fixApplied).toEqual([]);
  });

  it('uses a placeholder when the matched procedure has no root cause or prevention', () => {
    const { markdown } = composeIncidentReport(
      input({ matchedProcedure: { id: PROCEDURE_ID, title: 'Connection pool exhaustion' } }),
    );
    expect(section(markdown, 'Root Cause')).toBe(`### Root Cause\n${ROOT_CAUSE_PLACEHOLDER}\n`);
    expect(section(markdown, 'Prevention')).toBe(`### Prevention\n${PREVENTION_PLACEHOLDER}\n`);
  });

  it('writes times in another zone when asked', () => {
    const { markdown, json } = composeIncidentReport(input({ timeZone: 'America/New_York' }));
    expect(markdown).toContain('- Declared: 2026-11-24 04:05 EST by @U0DECLARER\n');
    expect(markdown).toContain('| Time (America/New_York) | Who | What |');
    expect(tableRows(markdown)[0]).toBe('| 2026-11-24 04:05 EST | @U0DECLARER | declared INC-42 (P1) |');
    expect(markdown).not.toContain('CET');
    expect(json.timeline[0]?.local).toBe('2026-11-24 04:05 EST');
  });

  it('dates the report by the local declare date', () => {
    const base = input();
    const late = {
      ...base.incident,
      declaredAt: new Date('2026-11-24T23:30:00Z'),
      resolvedAt: new Date('2026-11-25T00:10:00Z'),
    };
    const berlin = composeIncidentReport({ ...base, incident: late });
    expect(berlin.markdown).toContain('## Date: 2026-11-25\n');
    expect(berlin.filename).toBe('incident-42-2026-11-25.md');
    const newYork = composeIncidentReport({ ...base, incident: late, timeZone: 'America/New_York' });
    expect(newYork.markdown).toContain('## Date: 2026-11-24\n');
  });

  it('is deterministic and rejects an unknown time zone', () => {
    expect(composeIncidentReport(input())).toEqual(composeIncidentReport(input()));
    expect(() => composeIncidentReport(input({ timeZone: 'Mars/Olympus' }))).toThrow(/Unknown time zone/);
  });

  it('formats durations', () => {
    expect(humanDuration(0)).toBe('0 min');
    expect(humanDuration(45)).toBe('45 min');
    expect(humanDuration(60)).toBe('1 h 0 min');
    expect(humanDuration(83)).toBe('1 h 23 min');
    expect(humanDuration(26 * 60 + 5)).toBe('1 d 2 h 5 min');
  });
});
