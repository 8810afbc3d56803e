import { describe, expect, it } from 'vitest';
import { describeAuditEvent } from '../../src/audit/describe.js';
import type { AuditEvent, HashedContent, StoredAuditEvent } from '../../src/audit/events.js';
import type { IncidentReportInput } from '../../src/incidents/model.js';
import { composeIncidentReport } from '../../src/incidents/reportDraft.js';
import { auditEventMarkdown } from '../../src/incidents/timelineMarkdown.js';
import { auditLine } from '../../src/slack/views/auditLine.js';
import { auditEventJson, auditEventTerminal } from '../../src/terminal/auditText.js';

/**
 * One audit event, four media: the Slack thread (mrkdwn, real mentions), the incident report
 * (Markdown, SQL exactly as executed, people by name), `audit export` (JSON, the stored
 * content) and `audit export --format text` (the terminal).
 */

const SQL =
  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity\nWHERE state <> 'active' AND wait > 3 AND query LIKE '%a&b%'";
const PEOPLE = { U0ALICE: 'alice', U0BOB: 'bob', U0CAROL: 'carol' };
const AT = new Date('2026-11-24T09:05:03.123Z');

function event(fields: Pick<AuditEvent, 'kind' | 'actor' | 'data'> & Partial<AuditEvent>): AuditEvent {
  return { seq: 7, at: AT, prevHash: '0'.repeat(64), hash: 'f'.repeat(64), ...fields };
}

const executed = event({
  kind: 'execution_started',
  actor: 'runbook-bot',
  requestId: '1a2b3c4d-0000-4000-8000-000000000000',
  data: { sql: SQL, planHash: '9f3e5d7c1b2a' },
});
const handOver = event({
  kind: 'incident_updated',
  actor: 'U0CAROL',
  data: { change: 'commander', from: 'U0ALICE', to: 'U0BOB' },
});
/** As IncidentService stored a hand-over before its data was structured: a sentence for Slack. */
const storedBefore = event({
  kind: 'incident_updated',
  actor: 'U0ALICE',
  data: { change: 'handed command to <@U0BOB>', commander: 'U0BOB' },
});

function stored(audit: AuditEvent): StoredAuditEvent {
  const content: HashedContent = {
    seq: audit.seq,
    at: '2026-11-24T09:05:03.123456Z',
    kind: audit.kind,
    actor: audit.actor,
    target: null,
    runId: null,
    requestId: audit.requestId ?? null,
    incidentId: null,
    data: audit.data,
  };
  return { event: audit, content, hashScheme: 'sha256' };
}

describe('audit events rendered per medium', () => {
  it('Slack: SQL escaped in a short code span, people as real mentions', () => {
    expect(auditLine(executed)).toBe(
      ":rocket: execution started: `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state &lt;&gt; 'active' AND wait &gt; 3 AND query LIKE '%a&amp;b%'` (plan 9f3e5d7c…)",
    );
    expect(auditLine(handOver)).toBe(':memo: <@U0CAROL> handed command from <@U0ALICE> to <@U0BOB>');
    expect(auditLine(storedBefore)).toBe(':memo: <@U0ALICE> handed command to <@U0BOB>');
  });

  it('Markdown: the SQL exactly as executed, people by name', () => {
    expect(auditEventMarkdown(executed, PEOPLE)).toBe(
      "execution started: `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state <> 'active' AND wait > 3 AND query LIKE '%a&b%'` (plan 9f3e5d7c…)",
    );
    expect(auditEventMarkdown(handOver, PEOPLE)).toBe('@carol handed command from @alice to @bob');
    expect(auditEventMarkdown(storedBefore, PEOPLE)).toBe('@alice handed command to @bob');
    // Someone without a name stays an id rather than disappearing.
    expect(auditEventMarkdown(handOver, {})).toBe('@U0CAROL handed command from @U0ALICE to @U0BOB');
  });

  it('Markdown in the report: the timeline table shows the same, escaped only for the table', () => {
    const report = composeIncidentReport({
      incident: {
        id: 'i1',
        number: 42,
        title: 'Checkout down',
        severity: 'P1',
        status: 'open',
        declaredBy: 'U0ALICE',
        commander: 'U0BOB',
        channelId: 'C0INC',
        rootTs: null,
        declaredAt: AT,
        acknowledgedAt: null,
        resolvedAt: null,
        statusText: null,
        summary: null,
        suggestedProcedures: [],
        target: null,
      },
      timeline: [executed, handOver].map((audit) => ({
        at: audit.at,
        kind: audit.kind,
        actor: audit.actor,
        what: describeAuditEvent(audit),
      })),
      findings: [],
      remediations: [],
      rolledBack: [],
      timeZone: 'UTC',
      now: AT,
      people: PEOPLE,
    } satisfies IncidentReportInput);
    expect(report.markdown).toContain(
      "| runbook-bot | execution started: `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state <> 'active' AND wait > 3 AND query LIKE '%a&b%'` (plan 9f3e5d7c…) |",
    );
    expect(report.markdown).toContain('| @carol | @carol handed command from @alice to @bob |');
    expect(report.markdown).not.toMatch(/&lt;|&gt;|&amp;|<@/);
    expect(report.json.timeline[1]?.text).toBe('@carol handed command from @alice to @bob');
  });

  it('JSON: the stored content, SQL and people ids untouched', () => {
    const line = JSON.parse(auditEventJson(stored(executed)));
    expect(line.data.sql).toBe(SQL);
    expect(line).toMatchObject({
      seq: 7,
      kind: 'execution_started',
      hashScheme: 'sha256',
      hash: 'f'.repeat(64),
    });
    expect(JSON.parse(auditEventJson(stored(handOver))).data).toEqual({
      change: 'commander',
      from: 'U0ALICE',
      to: 'U0BOB',
    });
  });

  it('terminal: one plain line per event, nothing escaped', () => {
    expect(auditEventTerminal(executed)).toBe(
      "#7 2026-11-24T09:05:03Z execution started: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state <> 'active' AND wait > 3 AND query LIKE '%a&b%' (plan 9f3e5d7c…)",
    );
    expect(auditEventTerminal(handOver)).toBe(
      '#7 2026-11-24T09:05:03Z U0CAROL handed command from U0ALICE to U0BOB',
    );
    expect(auditEventTerminal(storedBefore)).toBe('#7 2026-11-24T09:05:03Z U0ALICE handed command to U0BOB');
  });

  it('a page: accepted, or failed with the reason, in each medium', () => {
    const sent = event({
      kind: 'incident_page',
      actor: 'runbook-bot',
      data: { provider: 'opsgenie', action: 'trigger', outcome: 'sent' },
    });
    const refused = event({
      kind: 'incident_page',
      actor: 'runbook-bot',
      data: {
        provider: 'opsgenie',
        action: 'resolve',
        outcome: 'failed',
        reason:
          'Opsgenie refused the resolve of INC-42 with 404 (the alert is not there (deleted, or never created)); not retried',
      },
    });
    expect(auditLine(sent)).toBe(':pager: paging Opsgenie: accepted');
    expect(auditLine(refused)).toBe(
      ':warning: closing the Opsgenie alert failed: Opsgenie refused the resolve of INC-42 with 404 (the alert is not there (deleted, or never created)); not retried',
    );
    expect(auditEventMarkdown(refused, {})).toMatch(/^closing the Opsgenie alert failed: Opsgenie refused/);
    expect(auditEventTerminal(sent)).toBe('#7 2026-11-24T09:05:03Z paging Opsgenie: accepted');
  });

  it('Slack: one short line, escaped; secrets redacted in every medium', () => {
    const request = { requestId: '1a2b3c4d-0000-4000-8000-000000000000' };
    expect(
      auditLine(
        event({
          kind: 'approved',
          actor: 'U0APPROVER',
          ...request,
          data: { planHash: '9f3e5d7c1b2a', approvals: 1, required: 2 },
        }),
      ),
    ).toBe(':white_check_mark: <@U0APPROVER> approved request 1a2b3c4d… (plan 9f3e5d7c…, 1 of 2)');
    expect(
      auditLine(
        event({ kind: 'refused', actor: 'U0X', ...request, data: { reason: 'You <b>cannot</b> & never' } }),
      ),
    ).toBe(':no_entry: <@U0X> was refused on request 1a2b3c4d…: You &lt;b&gt;cannot&lt;/b&gt; &amp; never');
    const leaky = event({
      kind: 'execution_started',
      actor: 'runbook-bot',
      data: { sql: `SELECT 1 -- postgres://u:hunter2@db/x ${'x'.repeat(200)}` },
    });
    expect(auditLine(leaky)).toMatch(
      /^:rocket: execution started: `SELECT 1 -- postgres:\/\/u:\*\*\*@db\/x x+…`$/,
    );
    expect(auditLine(leaky).length).toBeLessThan(160);
    for (const line of [auditLine(leaky), auditEventMarkdown(leaky, PEOPLE), auditEventTerminal(leaky)])
      expect(line).not.toContain('hunter2');
  });
});
