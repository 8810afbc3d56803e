import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { timerJobId } from '../../src/incidents/incidentService.js';
import { composeIncidentReport } from '../../src/incidents/reportDraft.js';
import { gatherReportInput } from '../../src/incidents/reportInput.js';
import { JOBS, QUEUES } from '../../src/jobs/catalog.js';
import { type RunningService, startService } from '../../src/service.js';
import { IncidentStore } from '../../src/store/incidents.js';
import { captureLogs, eventually, serviceEnv } from '../support/botHarness.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import { interceptSlackOnly, sendSlashCommand } from '../support/slack.js';

const [server] = inject('postgresServers');

const ROUTING_KEY = 'R0UTINGKEY0123456789abcdefABCDEF';
const GENIE_KEY = '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';

/** A team's runbook with a severity table of its own (P1: 7 minutes) and P1 milestones. */
const TEAM_RUNBOOK = `# Widget Operations

## Quick Reference

| Issue | Severity | Response Time | Page |
|-------|----------|---------------|------|
| Widgets down | P0 | Immediate | Yes |
| Widgets slow | P1 | 7 minutes | Yes |
| Widgets odd | P2 | 1 hour | No |

## Escalation Procedures

### P1 (High) - Widgets slow
1. **Immediate**: Open the widget status page
2. **Within 20 min**: Tell the widget team
3. **Post-incident**: Write it up
`;

const POLICY = `
incidents:
  escalation:
    - { name: On-call engineer, groups: [S0ONCALL] }
    - { name: Engineering lead, groups: [S0LEADS] }
    - { name: Database admin, groups: [S0DBA, S0DBA2], severities: [P0, P1] }
  severities:
    P2: { status_reminder: 10 minutes }
`;

interface Call {
  method: string;
  params: Record<string, string>;
}

interface Page {
  provider: 'pagerduty' | 'opsgenie';
  path: string;
  body: Record<string, unknown>;
  authorization?: string;
}

function fakeSlack(calls: Call[]) {
  let ts = 0;
  let channels = 0;
  nock('https://slack.com')
    .persist()
    .post(/\/api\/.*/)
    .reply((uri, body) => {
      const method = uri.replace('/api/', '');
      const params = Object.fromEntries(new URLSearchParams(body as string));
      calls.push({ method, params });
      ts += 1;
      if (method === 'conversations.create') {
        channels += 1;
        return [200, { ok: true, channel: { id: `CPAGE${String(channels).padStart(4, '0')}` } }];
      }
      return [200, { ok: true, ts: `1700000200.${String(ts).padStart(6, '0')}`, channel: params.channel }];
    });
}

/**
 * PagerDuty and Opsgenie, answering 202 (or, first, each status of `failFirst` once per
 * provider), recording every request that reached them.
 */
function fakePagers(pages: Page[], failFirst: { pagerduty?: number[]; opsgenie?: number[] } = {}) {
  const queued = { pagerduty: [...(failFirst.pagerduty ?? [])], opsgenie: [...(failFirst.opsgenie ?? [])] };
  const answer = (provider: Page['provider']) =>
    function (this: { req: { headers: Record<string, string> } }, uri: string, body: unknown) {
      pages.push({
        provider,
        path: uri,
        body: body as Record<string, unknown>,
        authorization: this.req.headers.authorization,
      });
      const status = queued[provider].shift();
      if (status)
        return [
          status,
          { status: 'failure', message: `fake ${status}`, errors: ['Event object is invalid'] },
        ];
      return [
        202,
        {
          status: 'success',
          message: 'Event processed',
          dedup_key: 'x',
          result: 'Request will be processed',
        },
      ];
    };
  nock('https://events.pagerduty.com').persist().post('/v2/enqueue').reply(answer('pagerduty'));
  nock('https://api.opsgenie.com')
    .persist()
    .post(/\/v2\/alerts.*/)
    .reply(answer('opsgenie'));
}

describe.skipIf(!redisAvailable())('incident severities, escalation levels and pages', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let redis: TestRedis;
  let service: RunningService;
  let dir: string;
  const calls: Call[] = [];
  const pages: Page[] = [];
  const logs = captureLogs();

  interceptSlackOnly();

  beforeAll(async () => {
    [state, target, redis] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url),
      startTestRedis(),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'incident-pager-'));
    const runbooks = join(dir, 'runbooks');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(runbooks);
    writeFileSync(join(runbooks, 'widgets.md'), TEAM_RUNBOOK);
    writeFileSync(join(dir, 'policy.yml'), POLICY);
    const env = {
      ...serviceEnv(state, target, redis.url),
      RUNBOOKS_DIR: runbooks,
      POLICY_FILE: join(dir, 'policy.yml'),
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      OPSGENIE_API_KEY: GENIE_KEY,
      REPORT_TIME_ZONE: 'UTC',
    };
    service = await startService({
      mode: 'all',
      config: loadServiceConfig(env, { mode: 'all' }),
      logger: logs.logger,
    });
  });
  afterEach(() => {
    calls.length = 0;
    pages.length = 0;
  });
  afterAll(async () => {
    await service?.stop();
    await redis?.stop();
    await Promise.all([state?.drop(), target?.drop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Declares and waits until it is open in its own channel. */
  async function declare(
    text: string,
    channel: string,
  ): Promise<{ id: string; number: number; channel: string }> {
    const answer = await incident(`declare ${text}`, channel);
    expect(answer).toMatch(
      /^P[01]/.test(text) ? / Paging PagerDuty and Opsgenie\.$/ : /Creating its channel…$/,
    );
    const number = Number(/^Declared INC-(\d+)/.exec(answer)?.[1]);
    expect(number, answer).toBeGreaterThan(0);
    const row = await eventually(async () => {
      const { rows } = await state.admin.query<{ id: string; channel_id: string; root_ts: string | null }>(
        'SELECT id, channel_id, root_ts FROM incidents WHERE number = $1',
        [number],
      );
      return rows[0]?.root_ts ? rows[0] : undefined;
    });
    await eventually(() =>
      calls.find((call) => call.method === 'pins.add' && call.params.channel === row.channel_id),
    );
    return { id: row.id, number, channel: row.channel_id };
  }

  async function incident(text: string, channel: string): Promise<string> {
    const response = await sendSlashCommand(service.port, {
      text,
      channel_id: channel,
      command: '/incident',
    });
    return response.json?.text ?? '';
  }

  /** The incident's `incident_page` audit events, once there are `count` of them. */
  async function pageEvents(incidentId: string, count: number) {
    return eventually(async () => {
      const { rows } = await state.admin.query<{ actor: string; data: Record<string, string> }>(
        "SELECT actor, data FROM audit_events WHERE incident_id = $1 AND kind = 'incident_page' ORDER BY seq",
        [incidentId],
      );
      return rows.length >= count ? rows : undefined;
    });
  }

  /** The report draft's timeline rows, as `runbook-bot report` composes them. */
  async function timelineOf(incidentId: string): Promise<string> {
    const pool = new pg.Pool({ connectionString: state.url, max: 1 });
    try {
      const stored = await new IncidentStore(pool).get(incidentId);
      const { markdown } = composeIncidentReport(await gatherReportInput(pool, stored!, 'UTC'));
      return markdown.slice(markdown.indexOf('### Timeline'));
    } finally {
      await pool.end();
    }
  }

  /** How often the incident's status reminder comes, or undefined without one. */
  async function reminderEvery(incidentId: string): Promise<number | undefined> {
    const schedulers = await service.queues.queue(QUEUES.notifications).getJobSchedulers(0, -1);
    const every = schedulers.find(
      (scheduler) => scheduler.key === timerJobId(incidentId, 'status-reminder'),
    )?.every;
    return every === undefined || every === null ? undefined : Number(every);
  }

  async function fire(incidentId: string, timer: 'escalation' | 'milestone', step: number) {
    await service.queues
      .queue(QUEUES.notifications)
      .add(JOBS.incidentTimer, { incidentId, timer, step }, { jobId: `test-${incidentId}-${timer}-${step}` });
  }

  it("times a P1 by the team runbook's table, posts its milestones, escalates through every level with its groups, pages and resolves the page", async () => {
    fakeSlack(calls);
    fakePagers(pages);
    const declared = await declare('P1 Zorblax frobnication stalled', 'C0WIDGETS');

    // The team runbook's P1 is 7 minutes, not the built-in hour; its "Immediate" milestone is posted at once.
    const root = calls.find(
      (call) => call.method === 'chat.postMessage' && call.params.channel === declared.channel,
    )!;
    expect(root.params.blocks).toContain('*Response target*\\n7 min (runbook), by');
    // The policy file's levels win over any the runbook writes, and the message says whose they are.
    expect(root.params.blocks).toContain(
      'Escalation if nobody acknowledges (policy file): On-call engineer → Engineering lead → Database admin',
    );
    const milestone = await eventually(() =>
      calls.find((call) => call.params.text?.includes('milestone, right away')),
    );
    expect(milestone.params.text).toBe(
      ':triangular_flag_on_post: P1 milestone, right away: *Open the widget status page*',
    );
    const queue = service.queues.queue(QUEUES.notifications);
    const second = await eventually(
      async () => (await queue.getJob(timerJobId(declared.id, 'milestone', 1))) ?? undefined,
    );
    expect(second.delay).toBeGreaterThan(19 * 60_000);
    // A P1 pages, so it reminds of a status every INCIDENT_STATUS_REMINDER_MINUTES (30 by default).
    expect(await eventually(() => reminderEvery(declared.id))).toBe(30 * 60_000);
    // Two escalations for the three levels: the last level is reached too.
    expect(await queue.getJob(timerJobId(declared.id, 'escalation', 1))).toBeTruthy();
    expect(await queue.getJob(timerJobId(declared.id, 'escalation', 2))).toBeTruthy();

    // Paged at once, by both providers, keyed by the incident id.
    await eventually(() => (pages.length === 2 ? true : undefined));
    const pagerduty = pages.find((page) => page.provider === 'pagerduty')!;
    expect(pagerduty.body).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: declared.id,
      payload: {
        summary: `INC-${declared.number} P1: Zorblax frobnication stalled`,
        severity: 'error',
        source: 'runbook-bot',
      },
    });
    const opsgenie = pages.find((page) => page.provider === 'opsgenie')!;
    expect(opsgenie.path).toBe('/v2/alerts');
    expect(opsgenie.authorization).toBe(`GenieKey ${GENIE_KEY}`);
    expect(opsgenie.body).toMatchObject({
      alias: declared.id,
      priority: 'P2',
      message: `INC-${declared.number} P1: Zorblax frobnication stalled`,
    });

    // Nobody acknowledges: the second level, then the third, each with its user groups.
    await fire(declared.id, 'escalation', 1);
    const toLead = await eventually(() =>
      calls.find((call) => call.params.text?.includes('escalating from On-call')),
    );
    expect(toLead.params.text).toBe(
      ':rotating_light: The P1 response target has passed with no acknowledgement: escalating from On-call engineer to *Engineering lead*. <!subteam^S0LEADS>',
    );
    await fire(declared.id, 'escalation', 2);
    const toDba = await eventually(() =>
      calls.find((call) => call.params.text?.includes('escalating from Engineering lead')),
    );
    expect(toDba.params.text).toBe(
      ':rotating_light: Still no acknowledgement of this P1: escalating from Engineering lead to *Database admin* (the last level). <!subteam^S0DBA> <!subteam^S0DBA2>',
    );
    // Audited after the post: what fired, and the levels.
    const escalations = await eventually(async () => {
      const { rows } = await state.admin.query<{ data: { escalation: { to: string; level: number } } }>(
        "SELECT data FROM audit_events WHERE incident_id = $1 AND kind = 'incident_timer' AND data->>'timer' = 'escalation' ORDER BY seq",
        [declared.id],
      );
      return rows.length === 2 ? rows : undefined;
    });
    expect(escalations.map((row) => [row.data.escalation.to, row.data.escalation.level])).toEqual([
      ['Engineering lead', 2],
      ['Database admin', 3],
    ]);

    // Raised to P0: already paged, so no second page; resolved: the page is resolved and closed.
    expect(await incident('severity P0', declared.channel)).toBe(
      `INC-${declared.number}: changed the severity to P0`,
    );
    expect(await incident('resolve Frobnicator restarted', declared.channel)).toMatch(/^Resolved/);
    await eventually(() => (pages.length === 4 ? true : undefined));
    expect(
      pages.filter((page) => page.provider === 'pagerduty').map((page) => page.body.event_action),
    ).toEqual(['trigger', 'resolve']);
    expect(
      pages.find((page) => page.provider === 'pagerduty' && page.body.event_action === 'resolve')?.body,
    ).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'resolve',
      dedup_key: declared.id,
    });
    const close = pages.find((page) => page.provider === 'opsgenie' && page.path.includes('/close'))!;
    expect(close.path).toBe(`/v2/alerts/${declared.id}/close?identifierType=alias`);
    expect(close.authorization).toBe(`GenieKey ${GENIE_KEY}`);
    // Each page is in the incident's audit log, its thread and its report's timeline.
    const audited = (await pageEvents(declared.id, 4)).map((row) => ({ actor: row.actor, ...row.data }));
    expect(audited).toHaveLength(4);
    expect(audited).toEqual(
      expect.arrayContaining(
        (['pagerduty', 'opsgenie'] as const).flatMap((provider) =>
          (['trigger', 'resolve'] as const).map((action) => ({
            actor: 'runbook-bot',
            provider,
            action,
            outcome: 'sent',
          })),
        ),
      ),
    );
    // The trigger may go out before the channel's root message exists (then it is not
    // mirrored, like the declaration); the resolve is mirrored into the incident's thread.
    await eventually(() =>
      calls.find(
        (call) =>
          call.method === 'chat.postMessage' &&
          call.params.channel === declared.channel &&
          call.params.text === ':pager: resolving the PagerDuty alert: accepted',
      ),
    );
    const timeline = await timelineOf(declared.id);
    for (const what of [
      'paging PagerDuty: accepted',
      'paging Opsgenie: accepted',
      'resolving the PagerDuty alert: accepted',
      'closing the Opsgenie alert: accepted',
    ])
      expect(timeline).toContain(`| runbook-bot | ${what} |`);
    // Its timers are gone.
    expect(await queue.getJob(timerJobId(declared.id, 'escalation', 2))).toBeFalsy();
    expect(await queue.getJob(timerJobId(declared.id, 'milestone', 1))).toBeFalsy();
  });

  it('pages a P2 only once raised to P0, retrying a 503 and a 429; a P2 resolved without ever paging pages nobody', async () => {
    fakeSlack(calls);
    fakePagers(pages, { pagerduty: [503], opsgenie: [429] });
    const quiet = await declare('P2 Zorblax slightly odd', 'C0WIDGETS');
    // The policy file gives P2, which does not page, a status reminder of its own.
    expect(await eventually(() => reminderEvery(quiet.id))).toBe(10 * 60_000);
    expect(await incident('resolve False alarm', quiet.channel)).toMatch(/^Resolved/);
    await eventually(() =>
      calls.find(
        (call) =>
          call.method === 'files.completeUploadExternal' || call.method === 'files.getUploadURLExternal',
      ),
    );

    const raised = await declare('P2 Zorblax getting worse', 'C0WIDGETS');
    expect(await incident('severity P0', raised.channel)).toBe(
      `INC-${raised.number}: changed the severity to P0. Paging PagerDuty and Opsgenie.`,
    );
    // Each provider failed once and was tried again.
    await eventually(
      () =>
        pages.filter((page) => page.provider === 'pagerduty').length === 2 &&
        pages.filter((page) => page.provider === 'opsgenie').length === 2
          ? true
          : undefined,
      30_000,
    );
    expect(pages.every((page) => (page.body.dedup_key ?? page.body.alias) === raised.id)).toBe(true);
    expect(pages.find((page) => page.provider === 'pagerduty')?.body).toMatchObject({
      payload: { severity: 'critical' },
    });
    expect(pages.find((page) => page.provider === 'opsgenie')?.body).toMatchObject({ priority: 'P1' });
    expect(logs.lines.join('')).toContain('PagerDuty answered 503 to the trigger');
    // A try that is retried is not an event: the log says the page went out, once per provider.
    const audited = await pageEvents(raised.id, 2);
    expect(audited.map((row) => [row.data.provider, row.data.outcome]).sort()).toEqual([
      ['opsgenie', 'sent'],
      ['pagerduty', 'sent'],
    ]);
    await incident('resolve Fixed', raised.channel);
    await eventually(() => (pages.length === 6 ? true : undefined));
  }, 60_000);

  it('does not retry a page the provider refuses (4xx), and logs what to check', async () => {
    fakeSlack(calls);
    fakePagers(pages, { pagerduty: [400] });
    const declared = await declare('P0 Zorblax down', 'C0WIDGETS');
    const job = await eventually(async () => {
      const found = await service.queues
        .queue(QUEUES.notifications)
        .getJob(`incident-page-pagerduty-trigger-${declared.id}`);
      return found && (await found.isFailed()) ? found : undefined;
    });
    expect(job.attemptsMade).toBe(1);
    expect(pages.filter((page) => page.provider === 'pagerduty')).toHaveLength(1);
    expect(job.failedReason).toBe(
      `PagerDuty refused the trigger of INC-${declared.number} with 400 (the event was refused as malformed); not retried: {"status":"failure","message":"fake 400","errors":["Event object is invalid"]}`,
    );
    const logged = logs.lines
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .find((line) => line.msg === job.failedReason);
    expect(logged?.level).toBe(50);
    // The refusal is in the incident's audit log and its report, with the reason.
    const failed = await eventually(async () =>
      (await pageEvents(declared.id, 1)).find((row) => row.data.outcome === 'failed'),
    );
    expect(failed.data).toEqual({
      provider: 'pagerduty',
      action: 'trigger',
      outcome: 'failed',
      reason: job.failedReason,
    });
    expect(await timelineOf(declared.id)).toContain(
      `| runbook-bot | paging PagerDuty failed: ${job.failedReason.replaceAll('|', '\\|')} |`,
    );
    await incident('resolve Widgets back', declared.channel);
    await eventually(() => (pages.some((page) => page.body.event_action === 'resolve') ? true : undefined));
  });
});
