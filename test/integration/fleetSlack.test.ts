import { WebClient } from '@slack/web-api';
import nock from 'nock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { startFleetHealth } from '../../src/health/fleetRunStarter.js';
import type { QueueBackend } from '../../src/jobs/queueBackend.js';
import { requeueStrandedFleets } from '../../src/service/strandedRuns.js';
import { type RunningService, startService } from '../../src/service.js';
import { blockViolations } from '../../src/slack/blockLimits.js';
import { postFleetSummary } from '../../src/slack/posts/fleetSummaryPost.js';
import type { Run } from '../../src/store/runs.js';
import { loadTargetRegistry } from '../../src/targets/registry.js';
import {
  captureLogs,
  countRuns,
  eventually,
  interceptChatUpdate,
  interceptPermalinks,
  interceptPostMessage,
  type Posted,
  serviceEnv,
} from '../support/botHarness.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { fleetTargetsEnv } from '../support/fleet.js';
import { redisAvailable, startTestRedis, type TestRedis } from '../support/redis.js';
import { BOT_TOKEN, interceptSlackOnly, sendSlashCommand } from '../support/slack.js';

const [server] = inject('postgresServers');

interceptSlackOnly();

/** What the bot edits: chat.update's bodies, with their blocks parsed. */
function interceptLinksAndUpdates() {
  interceptPermalinks();
  return interceptChatUpdate();
}

describe.skipIf(!redisAvailable())('/runbook health all | tag:<tag>', () => {
  let state: TestDatabase;
  let targets: TestDatabase[];
  let redis: TestRedis;
  let service: RunningService;
  const logs = captureLogs();

  beforeAll(async () => {
    [state, redis, ...targets] = (await Promise.all([
      createTestDatabase(server!.url, { demoSchema: false }),
      startTestRedis(),
      ...[0, 1, 2].map(() => createTestDatabase(server!.url, { demoSchema: false })),
    ])) as [TestDatabase, TestRedis, ...TestDatabase[]];
    const { TARGET_DATABASE_URL: _single, ...env } = serviceEnv(state, targets[0]!, redis.url);
    const config = loadServiceConfig(
      {
        ...env,
        ...fleetTargetsEnv(targets),
        FLEET_CONCURRENCY: '2',
      },
      { mode: 'all' },
    );
    service = await startService({ mode: 'all', config, logger: logs.logger });
  });
  afterAll(async () => {
    await service?.stop();
    await redis?.stop();
    await Promise.all([state?.drop(), ...(targets ?? []).map((db) => db.drop())]);
  });

  /** The fleet's runs once the summary has linked every problem target's report. */
  async function fleetRuns(count: number): Promise<Run[]> {
    const recent = await service.runs.recent(count);
    return Promise.all(recent.map(async (run) => (await service.runs.get(run.id))!));
  }

  it('posts one summary, worst first, with each problem target’s report in its thread and linked from it', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const updates = interceptLinksAndUpdates();
    const before = await countRuns(state.url);
    const response = await sendSlashCommand(service.port, { text: 'health all' });
    expect(response.json).toEqual({
      response_type: 'ephemeral',
      text: 'Checking all targets: 4 targets; one summary follows here.',
    });
    expect(await countRuns(state.url)).toBe(before + 4);
    await eventually(() => updates[0]);
    const runs = await fleetRuns(4);
    const status = Object.fromEntries(runs.map((run) => [run.target, run.report?.status]));
    expect(status).toMatchObject({ shop: expect.stringMatching(/warn|critical/), gone: 'unreachable' });
    const problems = runs.filter((run) => run.report?.status !== 'ok').map((run) => run.target);

    // One message in the channel, the rest in its thread: one report per problem target.
    const [summary, ...replies] = posted;
    expect(summary).toMatchObject({ channel: 'C0INCIDENT', threadTs: undefined });
    expect(summary!.text).toMatch(/Health of all targets\*: .*\(4 targets\)/);
    expect(replies.map((reply) => reply.threadTs)).toEqual(problems.map(() => summary!.ts));
    expect(replies[0]!.text).toMatch(/^Health of gone: /);
    expect(replies.map((reply) => reply.text.match(/^Health of (\w+)/)?.[1]).sort()).toEqual(
      [...problems].sort(),
    );
    for (const run of runs.filter((r) => problems.includes(r.target)))
      expect(run.postedTs).toBe(
        replies.find((reply) => reply.text.startsWith(`Health of ${run.target}:`))?.ts,
      );

    // The summary is edited in place, gone first, each problem linking to its report.
    const [update] = updates;
    expect(update!.ts).toBe(summary!.ts);
    expect(blockViolations(JSON.parse(update!.blocks))).toEqual([]);
    const lines = update!.blocks;
    expect(lines.indexOf('*gone*')).toBeLessThan(lines.indexOf('*shop*'));
    expect(lines).toContain('connection refused by 127.0.0.1:1');
    expect(lines).not.toContain('hunter2');
    for (const reply of replies) expect(lines).toContain(`p${reply.ts}|report`);

    // Run again, as a retry after a crash would: nothing is posted twice.
    const db = new pg.Pool({ connectionString: state.url, max: 2 });
    try {
      await postFleetSummary(
        { db, runs: service.runs, slack: new WebClient(BOT_TOKEN) },
        { runIds: runs.map((run) => run.id), channel: 'C0INCIDENT', label: 'all targets' },
      );
    } finally {
      await db.end();
    }
    expect(posted).toHaveLength(1 + problems.length);
  });

  it('posts each report once and marks the fleet posted when chat.getPermalink is refused (the links are cosmetic)', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const updates = interceptChatUpdate();
    let asked = 0;
    nock('https://slack.com')
      .persist()
      .post('/api/chat.getPermalink')
      .reply(200, () => {
        asked++;
        return { ok: false, error: 'unknown_method' };
      });
    const client = new pg.Client({ connectionString: state.url });
    await client.connect();
    try {
      // Asked in an open incident's channel: the fleet's runs are part of the incident.
      const { rows: incident } = await client.query<{ id: string }>(
        `INSERT INTO incidents (id, title, severity, declared_by, commander, origin_channel)
         VALUES (gen_random_uuid(), 'Checkout failing', 'P1', 'U0ALICE', 'U0ALICE', 'C0NOLINKS') RETURNING id`,
      );
      const response = await sendSlashCommand(service.port, { text: 'health all', channel_id: 'C0NOLINKS' });
      expect(response.json?.text).toBe('Checking all targets: 4 targets; one summary follows here.');
      const { rows: attached } = await client.query(
        `SELECT r.target FROM runs r JOIN fleet_runs f ON r.id = ANY(f.run_ids)
          WHERE f.channel_id = 'C0NOLINKS' AND r.incident_id = $1`,
        [incident[0]!.id],
      );
      expect(attached).toHaveLength(4);
      await eventually(async () => {
        const { rows } = await client.query(
          `SELECT 1 FROM fleet_runs WHERE channel_id = 'C0NOLINKS' AND summary_posted_at IS NOT NULL`,
        );
        return rows.length === 1 ? true : undefined;
      });
    } finally {
      await client.end();
    }
    const [summary, ...replies] = posted.filter((p) => p.channel === 'C0NOLINKS');
    expect(summary).toMatchObject({ threadTs: undefined });
    expect(summary!.text).toMatch(/Health of all targets\*: .*\(4 targets\)/);
    // gone (unreachable) and shop (faulty) at least, each once, in the summary's thread.
    const names = replies.map((reply) => reply.text.match(/^Health of (\w+)/)?.[1]);
    expect(names).toEqual([...new Set(names)]);
    expect(names).toEqual(expect.arrayContaining(['gone', 'shop']));
    expect(replies.every((reply) => reply.threadTs === summary!.ts)).toBe(true);
    // Refused once, not asked again for the other reports; the summary is left as posted.
    expect(asked).toBe(1);
    expect(updates).toEqual([]);
    expect(logs.lines.join('')).toContain('chat.getPermalink refused');
    expect(
      logs.lines.filter((line) => line.includes('job failed') && line.includes('fleet-summary')),
    ).toEqual([]);
  });

  it('recovers a fleet whose job the queue lost: the sweep queues it again and its summary is posted once', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    interceptLinksAndUpdates();
    // Accepted and recorded, but the job never reaches Redis (restarted empty, say).
    const losing = Object.create(service.queues, {
      enqueue: { value: async () => undefined },
    }) as QueueBackend;
    const env = fleetTargetsEnv(targets);
    const registry = loadTargetRegistry({ targetsFile: env.TARGETS_FILE }, (name) => env[name]);
    const started = await startFleetHealth(
      { runs: service.runs, queues: losing, targets: registry, logger: logs.logger },
      {
        selector: { kind: 'tag', tag: 'staging' },
        requestedBy: 'U0ONCALL',
        channelId: 'C0LOST',
        idempotencyKey: 'lost-fleet',
      },
    );
    expect(started.outcome).toBe('queued');
    const sweep = { quietSeconds: 0, windowSeconds: 3600 };
    const [fleet] = (await requeueStrandedFleets(service.runs, service.queues, sweep)).filter(
      (f) => f.channel === 'C0LOST',
    );
    expect(fleet).toMatchObject({ label: 'tag:staging', finished: false });
    // The worker runs the fleet job the sweep queued, then its summary.
    const summary = await eventually(() => posted.find((p) => p.channel === 'C0LOST'));
    expect(summary.text).toMatch(/Health of tag:staging\*: .*\(1 target\)/);
    await eventually(async () => {
      const again = await requeueStrandedFleets(service.runs, service.queues, sweep);
      return again.some((f) => f.channel === 'C0LOST') ? undefined : true;
    });
    // One summary in the channel (a report in its thread only if the target has a problem).
    expect(posted.filter((p) => p.channel === 'C0LOST' && p.threadTs === undefined)).toEqual([summary]);
  });

  it('checks only the targets with a tag, and refuses a tag no target has, naming the known ones', async () => {
    const posted: Posted[] = [];
    interceptPostMessage(posted);
    const updates = interceptLinksAndUpdates();
    const response = await sendSlashCommand(service.port, { text: 'health tag:production' });
    expect(response.json?.text).toBe('Checking tag:production: 2 targets; one summary follows here.');
    await eventually(() => updates[0]);
    expect(posted[0]!.text).toMatch(/Health of tag:production\*: .*\(2 targets\)/);
    expect(updates[0]!.blocks).not.toContain('reports');

    const before = await countRuns(state.url);
    const unknown = await sendSlashCommand(service.port, { text: 'health tag:prod' });
    expect(unknown.json?.text).toBe(
      'No target has the tag "prod". Known tags: payments, production, retired, staging.',
    );
    expect(await countRuns(state.url)).toBe(before);
  });

  it('starts one fleet run for a Slack retry of the same request', async () => {
    interceptPostMessage([]);
    interceptLinksAndUpdates();
    const before = await countRuns(state.url);
    const fields = { text: 'health tag:production', trigger_id: 'trigger-fleet-retried' };
    await sendSlashCommand(service.port, fields);
    const retry = await sendSlashCommand(service.port, fields, {
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
    expect(retry.json?.text).toBe('Already checking tag:production…');
    expect(await countRuns(state.url)).toBe(before + 2);
  });
});
