import nock from 'nock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { AuditLog } from '../../src/audit/auditLog.js';
import { runCli } from '../../src/cliApp.js';
import { loadServiceConfig } from '../../src/config.js';
import { IncidentService, timerJobId } from '../../src/incidents/incidentService.js';
import { JOBS, QUEUES } from '../../src/jobs/catalog.js';
import type { QueueBackend } from '../../src/jobs/queueBackend.js';
import { type RunningService, startService } from '../../src/service.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import { IncidentStore } from '../../src/store/incidents.js';
import { captureLogs, eventually, serviceEnv } from '../support/botHarness.js';
import { createTestDatabase, openSession, type TestDatabase, withDatabase } from '../support/databases.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import { interceptSlackOnly, sendBlockAction, sendSlashCommand } from '../support/slack.js';

const [server] = inject('postgresServers');

interface SlackCall {
  method: string;
  params: Record<string, string>;
}

/** Every Web API call the bot makes, answered like Slack; conversations.create says name_taken once. */
function fakeSlack(calls: SlackCall[]) {
  let createAttempts = 0;
  let ts = 0;
  nock('https://slack.com')
    .persist()
    .post(/\/api\/.*/)
    .reply((uri, body) => {
      const method = uri.replace('/api/', '');
      const params = Object.fromEntries(new URLSearchParams(body as string));
      calls.push({ method, params });
      ts += 1;
      switch (method) {
        case 'conversations.create':
          createAttempts += 1;
          return createAttempts === 1
            ? [200, { ok: false, error: 'name_taken' }]
            : [200, { ok: true, channel: { id: 'CINC0001', name: params.name } }];
        case 'files.getUploadURLExternal':
          return [
            200,
            { ok: true, upload_url: 'https://files.slack.com/upload/v1/abc', file_id: 'F0REPORT' },
          ];
        case 'files.completeUploadExternal':
          return [200, { ok: true, files: [{ id: 'F0REPORT' }] }];
        case 'users.info':
          return params.user === 'U0NEXT'
            ? [200, { ok: true, user: { id: 'U0NEXT', name: 'nora' } }]
            : [200, { ok: false, error: 'user_not_found' }];
        default:
          return [
            200,
            { ok: true, ts: `1700000100.${String(ts).padStart(6, '0')}`, channel: params.channel },
          ];
      }
    });
  nock('https://files.slack.com')
    .persist()
    .post(/.*/)
    .reply((_uri, body) => {
      calls.push({ method: 'upload', params: { content: String(body) } });
      return [200, 'OK'];
    });
}

describe.skipIf(!redisAvailable())('incidents', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let redis: TestRedis;
  let service: RunningService;
  const calls: SlackCall[] = [];
  const logs = captureLogs();

  interceptSlackOnly();

  beforeAll(async () => {
    [state, target, redis] = await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      createTestDatabase(server!.url),
      startTestRedis(),
    ]);
    const env = {
      ...serviceEnv(state, target, redis.url),
      INCIDENT_STATUS_REMINDER_MINUTES: '0.01',
      REPORT_TIME_ZONE: 'Europe/Berlin',
    };
    service = await startService({
      mode: 'all',
      config: loadServiceConfig(env, { mode: 'all' }),
      logger: logs.logger,
    });
  });
  afterEach(() => {
    calls.length = 0;
  });
  afterAll(async () => {
    await service?.stop();
    await redis?.stop();
    await Promise.all([state?.drop(), target?.drop()]);
  });

  it('declares, opens a channel (name_taken handled), pins the root, times, links a run, resolves and drafts the report', async () => {
    fakeSlack(calls);
    const declared = await sendSlashCommand(service.port, {
      text: 'declare P1 Checkout failing: too many connections',
      channel_id: 'C0ONCALL',
      user_id: 'U0DECLARER',
      command: '/incident',
    });
    expect(declared.status).toBe(200);
    expect(declared.json?.text).toMatch(/^Declared INC-\d+ \(P1\)\. Creating its channel…$/);

    const pinned = await eventually(() => calls.find((call) => call.method === 'pins.add'));
    const creates = calls.filter((call) => call.method === 'conversations.create');
    expect(creates).toHaveLength(2);
    expect(creates[0]!.params.name).toMatch(/^inc-\d{8}-checkout-failing-too-many-connections$/);
    expect(creates[1]!.params.name).toBe(`${creates[0]!.params.name}-2`);
    expect(calls.find((call) => call.method === 'conversations.invite')?.params).toMatchObject({
      channel: 'CINC0001',
      users: 'U0DECLARER',
    });
    const root = calls.find(
      (call) => call.method === 'chat.postMessage' && call.params.channel === 'CINC0001',
    )!;
    expect(root.params.blocks).toContain('Response target');
    expect(root.params.blocks).toContain('connection-pool-exhaustion');
    expect(pinned.params.channel).toBe('CINC0001');
    // The next command typed where it was declared is pointed at the incident, not told to declare one.
    expect(await sendIncident(service.port, 'report', 'C0ONCALL')).toMatch(
      /^There is no open incident in this channel\. INC-\d+ \(Checkout failing: too many connections\), declared from here, is worked in its own channel: use the command there\.$/,
    );

    // Timers are delayed jobs in Redis, so they survive a restart.
    const incident = (await state.admin.query('SELECT id FROM incidents ORDER BY number DESC LIMIT 1'))
      .rows[0] as { id: string };
    const queue = service.queues.queue(QUEUES.notifications);
    const warning = await eventually(
      async () => (await queue.getJob(timerJobId(incident.id, 'response-warning'))) ?? undefined,
    );
    expect(await warning.getState()).toBe('delayed');
    expect(await queue.getJob(timerJobId(incident.id, 'escalation', 1))).toBeTruthy();

    // The P1 status reminder fires (every 0.6 s here).
    await eventually(() =>
      calls.find(
        (call) =>
          call.method === 'chat.postMessage' && call.params.text?.includes('time for a status update'),
      ),
    );

    const status = await sendIncident(
      service.port,
      'status Rolled back the 14:00 deploy; pool recovering',
      'CINC0001',
    );
    expect(status).toContain('posted a status');

    // A hand-over: a real mention in the incident's thread, a name in the report.
    expect(await sendIncident(service.port, 'commander <@U0NEXT|nora>', 'CINC0001')).toContain(
      'handed command',
    );
    const handedOver = await eventually(() =>
      calls.find(
        (call) => call.method === 'chat.postMessage' && call.params.text?.includes('handed command'),
      ),
    );
    expect(handedOver.params.text).toBe(':memo: <@U0ONCALL> handed command from <@U0DECLARER> to <@U0NEXT>');

    // A procedure run in the incident channel belongs to the incident.
    const run = await sendSlashCommand(service.port, {
      text: 'run postgres-health#connection-pool-exhaustion',
      channel_id: 'CINC0001',
    });
    expect(run.json?.text).toContain('Running Connection pool exhaustion');

    const resolved = await sendIncident(service.port, 'resolve Pool size lowered in the API', 'CINC0001');
    expect(resolved).toMatch(/^Resolved INC-\d+\. The report draft follows in the thread\.$/);
    const upload = await eventually(() => calls.find((call) => call.method === 'upload'));
    const markdown = upload.params.content ?? '';
    for (const heading of [
      'What Broke',
      'Root Cause',
      'Impact',
      'Fix Applied',
      'What Was Rolled Back',
      'Prevention',
      'Timeline',
    ])
      expect(markdown).toContain(heading);
    expect(markdown).toContain('Rolled back the 14:00 deploy');
    expect(markdown).toContain('| @U0ONCALL | @U0ONCALL handed command from @U0DECLARER to @nora |');
    expect(markdown).toContain('postgres-health#connection-pool-exhaustion');
    expect(markdown).toMatch(/suggested/i);

    // Reminders stop after resolve.
    const reminders = () =>
      calls.filter((call) => call.params.text?.includes('time for a status update')).length;
    const before = reminders();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(reminders()).toBe(before);
    expect(await queue.getJob(timerJobId(incident.id, 'escalation', 1))).toBeFalsy();

    // The same draft from the terminal.
    const out: string[] = [];
    const code = await runCli(['report', incident.id, '--format', 'json'], {
      stdout: (text) => out.push(text),
      stderr: () => undefined,
      env: { DATABASE_URL: state.url, REPORT_TIME_ZONE: 'Europe/Berlin' },
      color: false,
    });
    expect(code).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ incident: expect.anything() });
  });

  it('puts a remediation approved in the incident channel on its timeline and in Fix Applied', async () => {
    fakeSlack(calls);
    await sendIncident(service.port, 'declare P2 Slow checkout queries', 'C0ONCALL');
    await eventually(() => calls.find((call) => call.method === 'pins.add'));
    // A session of an ordinary role on the target: a pid with nothing to cancel is "nothing to do".
    const role = `rb_report_${Date.now()}`;
    await target.admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'report-pw'`);
    const report = await openSession(
      withDatabase(server!.url, target.name, { user: role, password: 'report-pw' }),
      'checkout-report',
    );
    const reportPid = (await report.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await sendSlashCommand(service.port, {
      text: `run postgres-health#cancel-long-running-query pid=${reportPid}`,
      channel_id: 'CINC0001',
      user_id: 'U0ONCALL',
    });
    const blocksOf = (call: SlackCall) => call.params.blocks ?? '';
    const buttonValue = (call: SlackCall, actionId: string) =>
      (
        JSON.parse(blocksOf(call)) as Array<{
          type: string;
          elements?: Array<{ action_id: string; value: string }>;
        }>
      )
        .flatMap((block) => block.elements ?? [])
        .find((element) => element.action_id === actionId)!.value;
    const action = await eventually(() =>
      calls.find(
        (call) => call.method === 'chat.postMessage' && blocksOf(call).includes(ACTIONS.stepPreview),
      ),
    );
    await sendBlockAction(service.port, {
      actionId: ACTIONS.stepPreview,
      value: buttonValue(action, ACTIONS.stepPreview),
      channelId: 'CINC0001',
      userId: 'U0ONCALL',
    });
    const card = await eventually(() =>
      calls.find(
        (call) => call.method === 'chat.postMessage' && blocksOf(call).includes(ACTIONS.requestApproval),
      ),
    );
    const requestId = buttonValue(card, ACTIONS.requestApproval);
    await sendBlockAction(service.port, {
      actionId: ACTIONS.requestApproval,
      value: requestId,
      channelId: 'CINC0001',
      userId: 'U0ONCALL',
    });
    await eventually(() =>
      calls.find((call) => call.method === 'chat.update' && blocksOf(call).includes(ACTIONS.approve)),
    );
    await sendBlockAction(service.port, {
      actionId: ACTIONS.approve,
      value: requestId,
      channelId: 'CINC0001',
      userId: 'U0SECOND',
    });
    await eventually(() =>
      calls.find((call) => call.method === 'chat.update' && call.params.text?.endsWith(': succeeded')),
    );

    await sendIncident(service.port, 'resolve Query cancelled', 'CINC0001');
    const upload = await eventually(() => calls.find((call) => call.method === 'upload'));
    const markdown = upload.params.content ?? '';
    const fix = markdown.slice(
      markdown.indexOf('### Fix Applied'),
      markdown.indexOf('### What Was Rolled Back'),
    );
    expect(fix).toContain('pg_cancel_backend');
    expect(fix).toContain('@U0SECOND');
    const timeline = markdown.slice(markdown.indexOf('### Timeline'));
    expect(timeline).toMatch(/approved request/);
    expect(timeline).toMatch(/execution/);
    await report.end();
    await target.admin.query(`DROP ROLE ${role}`).catch(() => undefined);
  });

  it('takes in what the declaring channel found and ran in the hour before: findings in What Broke, runs on the timeline', async () => {
    fakeSlack(calls);
    // A fault the health check reports: a trigger switched off.
    await target.admin.query(`
      CREATE TABLE walk_orders (id int);
      CREATE FUNCTION walk_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER walk_touch BEFORE INSERT ON walk_orders FOR EACH ROW EXECUTE FUNCTION walk_touch();
      ALTER TABLE walk_orders DISABLE TRIGGER walk_touch;`);
    const posted = (channel: string, prefix: string) =>
      calls.find(
        (call) =>
          call.method === 'chat.postMessage' &&
          call.params.channel === channel &&
          call.params.text?.startsWith(prefix),
      );
    await sendSlashCommand(service.port, { text: 'health', channel_id: 'C0WALK', user_id: 'U0ONCALL' });
    await eventually(() => posted('C0WALK', 'Health of default'));
    await sendSlashCommand(service.port, {
      text: 'run postgres-health#terminate-idle-in-transaction',
      channel_id: 'C0WALK',
    });
    await eventually(() => posted('C0WALK', 'Runbook: Terminate idle in transaction'));
    // Neither a run of another channel nor one of this channel two hours ago is taken in.
    await sendSlashCommand(service.port, {
      text: 'run postgres-health#connection-pool-exhaustion',
      channel_id: 'C0ELSEWHERE',
    });
    await sendSlashCommand(service.port, {
      text: 'run postgres-health#cancel-long-running-query',
      channel_id: 'C0WALK',
    });
    await eventually(() => posted('C0WALK', 'Runbook: Cancel long-running query'));
    await state.admin.query(
      `UPDATE procedure_runs SET created_at = now() - interval '2 hours'
        WHERE channel_id = 'C0WALK' AND procedure_id = 'postgres-health#cancel-long-running-query'`,
    );

    const declared = await sendIncident(service.port, 'declare P2 Orders not syncing', 'C0WALK');
    expect(declared).toMatch(
      /^Declared INC-\d+ \(P2\)\. Creating its channel… Its timeline takes in this channel's last hour: 1 health check, 1 procedure run\.$/,
    );
    await eventually(() => calls.find((call) => call.method === 'pins.add'));
    // A check run in the incident's own channel afterwards is part of it as well.
    await sendSlashCommand(service.port, { text: 'health', channel_id: 'CINC0001', user_id: 'U0LEAD' });
    await eventually(() => posted('CINC0001', 'Health of default'));
    const { rows: checks } = await state.admin.query(
      `SELECT r.requested_by FROM runs r JOIN incidents i ON i.id = r.incident_id
        WHERE i.title = 'Orders not syncing' ORDER BY r.created_at`,
    );
    expect(checks).toEqual([{ requested_by: 'U0ONCALL' }, { requested_by: 'U0LEAD' }]);
    await sendIncident(service.port, 'resolve Trigger enabled again', 'CINC0001');
    const upload = await eventually(() =>
      calls.find((call) => call.method === 'upload' && call.params.content?.includes('Orders not syncing')),
    );
    const markdown = upload.params.content ?? '';
    const whatBroke = markdown.slice(markdown.indexOf('### What Broke'), markdown.indexOf('### Root Cause'));
    expect(whatBroke).toContain('- default: Disabled triggers — 1 disabled trigger: walk_orders.walk_touch');
    const timeline = markdown.slice(markdown.indexOf('### Timeline'));
    expect(timeline).toMatch(/@U0ONCALL ran a health check of `default`: \w+: .*Disabled triggers \(warn\)/);
    expect(timeline).toContain('/runbook run postgres-health#terminate-idle-in-transaction');
    expect(timeline).not.toContain('cancel-long-running-query');
    expect(timeline).not.toContain('connection-pool-exhaustion');
    // The health check came before the declaration, and is listed so.
    expect(timeline.indexOf('ran a health check')).toBeLessThan(timeline.indexOf('declared'));
    await target.admin.query('DROP TABLE walk_orders; DROP FUNCTION walk_touch()');
  });

  it('declares from a report button, escalates an unacknowledged incident, and resolves from the root message', async () => {
    fakeSlack(calls);
    await sendBlockAction(service.port, {
      actionId: ACTIONS.declareIncident,
      value: JSON.stringify({ severity: 'P0', title: 'default: Connections', target: 'default' }),
      channelId: 'C0REPORTS',
      userId: 'U0DECLARER',
    });
    await eventually(() => calls.find((call) => call.method === 'pins.add'));
    const root = calls.find(
      (call) => call.method === 'chat.postMessage' && call.params.channel === 'CINC0001',
    )!;
    expect(root.params.blocks).toContain(ACTIONS.incidentResolve);
    const incident = (
      await state.admin.query('SELECT id, severity FROM incidents ORDER BY number DESC LIMIT 1')
    ).rows[0] as {
      id: string;
      severity: string;
    };
    expect(incident.severity).toBe('P0');

    // The escalation timer, fired now instead of in 15 minutes: nobody has acknowledged.
    await service.queues
      .queue(QUEUES.notifications)
      .add(JOBS.incidentTimer, { incidentId: incident.id, timer: 'escalation' });
    const escalation = await eventually(() =>
      calls.find((call) => call.params.text?.includes('escalating from')),
    );
    expect(escalation.params.text).toContain('escalating from On-call engineer to *Tech lead*');

    await sendBlockAction(service.port, {
      actionId: ACTIONS.incidentResolve,
      value: incident.id,
      channelId: 'CINC0001',
      userId: 'U0LEAD',
    });
    await eventually(() => calls.find((call) => call.method === 'upload'));
    const status = (await state.admin.query('SELECT status FROM incidents WHERE id = $1', [incident.id]))
      .rows[0];
    expect(status).toEqual({ status: 'resolved' });
  });

  it('finishes opening an incident after Slack failed half-way: one root, pinned, announced once, timed', async () => {
    // The first pin fails; the open job is retried and does only what is left.
    nock('https://slack.com').post('/api/pins.add').reply(200, { ok: false, error: 'internal_error' });
    fakeSlack(calls);
    expect(await sendIncident(service.port, 'declare P1 Pins failing', 'C0PINS')).toMatch(
      /^Declared INC-\d+/,
    );
    await eventually(() => calls.find((call) => call.method === 'pins.add'), 20_000);
    const announced = () =>
      calls.filter((call) => call.params.channel === 'C0PINS' && call.params.text?.includes('declared by'));
    await eventually(() => (announced().length > 0 ? true : undefined));
    const incident = (await state.admin.query('SELECT id FROM incidents ORDER BY number DESC LIMIT 1'))
      .rows[0] as {
      id: string;
    };
    const queue = service.queues.queue(QUEUES.notifications);
    await eventually(async () => (await queue.getJob(timerJobId(incident.id, 'escalation', 1))) ?? undefined);
    const roots = calls.filter(
      (call) => call.method === 'chat.postMessage' && call.params.blocks?.includes(ACTIONS.incidentResolve),
    );
    expect(roots).toHaveLength(1);
    expect(announced()).toHaveLength(1);
    // The reminder is upserted after the timers are queued: waited for like them.
    const reminder = timerJobId(incident.id, 'status-reminder');
    await eventually(async () =>
      (await queue.getJobSchedulers()).some((scheduler) => scheduler.key === reminder) ? true : undefined,
    );
    // Resolved, so its reminders (every 0.6 s here) do not post into the next tests.
    const { rows: opened } = await state.admin.query<{ channel_id: string }>(
      'SELECT channel_id FROM incidents WHERE id = $1',
      [incident.id],
    );
    await sendIncident(service.port, 'resolve Pins work again', opened[0]!.channel_id);
    await eventually(async () => {
      const { rows } = await state.admin.query('SELECT status FROM incidents WHERE id = $1', [incident.id]);
      return rows[0]?.status === 'resolved' ? true : undefined;
    });
    // The resolution's audit line is mirrored by a job of its own: it must not land in the
    // next test's Slack calls.
    await eventually(async () => {
      const { rows } = await state.admin.query(
        'SELECT 1 FROM audit_outbox WHERE channel = $1 AND posted_ts IS NULL',
        [opened[0]!.channel_id],
      );
      return rows.length === 0 ? true : undefined;
    });
  });

  it('closes an incident it cannot open when the queue is down, so declaring again is no duplicate', async () => {
    // A queue that refuses every job, as Redis does while it is down.
    const refusing = {
      enqueue: async () => {
        throw new Error('Connection is closed.');
      },
    } as unknown as QueueBackend;
    const pool = new pg.Pool({ connectionString: state.url, max: 2 });
    try {
      const incidents = new IncidentService({
        incidents: new IncidentStore(pool),
        audit: new AuditLog(pool),
        queues: refusing,
        settings: loadServiceConfig(serviceEnv(state, target), { mode: 'all' }).incidents,
        logger: logs.logger,
      });
      const answer = await incidents.declare({
        severity: 'P2',
        title: 'Queue is down',
        user: 'U0DECLARER',
        channelId: 'C0NOQUEUE',
        requestId: 'no-queue-1',
      });
      expect(answer).toEqual({
        ok: false,
        reason: expect.stringMatching(/^INC-\d+ could not be opened: the job queue is unavailable/),
      });
    } finally {
      await pool.end();
    }
    const { rows } = await state.admin.query(
      "SELECT status, summary FROM incidents WHERE origin_channel = 'C0NOQUEUE'",
    );
    expect(rows).toEqual([{ status: 'resolved', summary: 'not opened: the job queue was unavailable' }]);
    // The queue may still take the open job after the declaration gave up on it: it opens nothing.
    const {
      rows: [closed],
    } = await state.admin.query<{ id: string }>(
      "SELECT id FROM incidents WHERE origin_channel = 'C0NOQUEUE'",
    );
    fakeSlack(calls);
    const late = await service.queues
      .queue(QUEUES.notifications)
      .add(JOBS.incidentOpen, { incidentId: closed!.id }, { jobId: `late-open-${closed!.id}` });
    await eventually(async () => ((await late.getState()) === 'completed' ? true : undefined));
    // Nothing about this incident (an earlier test's report upload may still be arriving).
    const aboutIt = calls.filter((call) =>
      /queue[- ]is[- ]down|C0NOQUEUE/i.test(JSON.stringify(call.params)),
    );
    expect(aboutIt).toEqual([]);
  });

  it('answers mistakes and commands outside an incident channel with what to do', async () => {
    fakeSlack(calls);
    expect(await sendIncident(service.port, 'declare Checkout failing', 'C0ONCALL')).toContain(
      'needs a severity first',
    );
    expect(await sendIncident(service.port, 'declare P5 Checkout failing', 'C0ONCALL')).toBe(
      'P5 is not one of the severities P0, P1, P2, P3 (P0 is the most urgent): `/incident declare P1 Checkout failing`',
    );
    expect(await sendIncident(service.port, 'severity sev1', 'C0RANDOM')).toContain(
      'sev1 is not one of the severities P0, P1, P2, P3',
    );
    expect(await sendIncident(service.port, 'status all good', 'C0RANDOM')).toContain(
      'There is no open incident in this channel',
    );
    expect(await sendIncident(service.port, 'commander alex', 'C0RANDOM')).toContain('needs a person');

    // The state database failing under a command: a clear answer, not a silent timeout.
    await state.admin.query('ALTER TABLE incidents RENAME TO incidents_away');
    try {
      expect(await sendIncident(service.port, 'status still looking', 'C0RANDOM')).toContain(
        'could not reach its state database or job queue',
      );
    } finally {
      await state.admin.query('ALTER TABLE incidents_away RENAME TO incidents');
    }
  });
});

/** `/incident …`, signed like Slack. */
async function sendIncident(port: number, text: string, channel: string): Promise<string> {
  const response = await sendSlashCommand(port, { text, channel_id: channel, command: '/incident' });
  return response.json?.text ?? '';
}
