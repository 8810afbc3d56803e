import { describe, expect, it } from 'vitest';
import type { Incident } from '../../src/incidents/model.js';
import { healthReportText } from '../../src/slack/views/healthReport.js';
import { incidentRootBlocks, incidentRootText } from '../../src/slack/views/incidentRoot.js';

/** Everything Slack would turn into a notification or a link, as a person could type it. */
const LIVE = '<!channel> <!here> <!everyone> <@U0BOB> <#C0GENERAL> <!subteam^S0DBA> & co';
const DEAD =
  '&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U0BOB&gt; &lt;#C0GENERAL&gt; &lt;!subteam^S0DBA&gt; &amp; co';

const incident: Incident = {
  id: '00000000-0000-4000-8000-000000000001',
  number: 7,
  title: `Checkout down ${LIVE}`,
  severity: 'P1',
  status: 'open',
  declaredBy: 'U0ALICE',
  commander: 'U0ALICE',
  channelId: 'C0INC',
  rootTs: null,
  declaredAt: new Date('2026-01-01T00:00:00Z'),
  acknowledgedAt: null,
  resolvedAt: null,
  statusText: LIVE,
  summary: null,
  suggestedProcedures: ['postgres-health#connections'],
  target: '<!channel>',
};

describe('text people typed, in what the bot posts', () => {
  it('is escaped in an incident root message, fallback text and mrkdwn alike', () => {
    expect(incidentRootText(incident)).toBe(`INC-7 P1: Checkout down ${DEAD} (open)`);
    const mrkdwn = JSON.stringify(
      incidentRootBlocks(incident, 'UTC', {
        rule: { label: 'P1 High', responseMs: 3_600_000, page: true, milestones: [], source: 'built-in' },
        path: [],
        pathSource: 'built-in',
      }).filter((block) => block.type !== 'header'),
    );
    expect(mrkdwn).not.toMatch(/<[!#]|<@U0BOB/);
    expect(mrkdwn).toContain('&lt;!channel&gt;');
  });

  it('is escaped in a health report’s fallback text', () => {
    const report = {
      target: 'default',
      status: 'critical' as const,
      startedAt: '2026-01-01T00:00:00Z',
      durationMs: 1,
      serverVersion: null,
      unreachable: `password authentication failed for user "${LIVE}"`,
      findings: [],
    };
    expect(healthReportText(report)).toBe(
      `Health of default: unreachable: password authentication failed for user "${DEAD}"`,
    );
  });
});
