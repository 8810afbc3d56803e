import { WebClient } from '@slack/web-api';
import { Command } from 'commander';
import nock from 'nock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type AuditEventInput, AuditLog, GENESIS_HASH, hashEvent } from '../../src/audit/auditLog.js';
import { UserError } from '../../src/errors.js';
import { auditEventText, auditMirrorJobSchema, postAuditMirror } from '../../src/jobs/auditMirror.js';
import { migrateStateDatabase } from '../../src/store/migrate.js';
import { addAuditCommands, parseSince } from '../../src/terminal/auditCli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { BOT_TOKEN } from '../support/slack.js';

const [server] = inject('postgresServers');

const RUN_ID = '0b6f1c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e';
const REQUEST_ID = '1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d';

interface StateDb {
  database: TestDatabase;
  pool: pg.Pool;
  log: AuditLog;
}

const opened: StateDb[] = [];

/** A migrated state database of the test's own: a broken chain cannot be repaired. */
async function stateDb(): Promise<StateDb> {
  const database = await createTestDatabase(server!.url, { demoSchema: false });
  await migrateStateDatabase(database.url);
  const pool = new pg.Pool({ connectionString: database.url, max: 10 });
  const state = { database, pool, log: new AuditLog(pool) };
  opened.push(state);
  return state;
}

afterAll(async () => {
  for (const { database, pool } of opened) {
    await pool.end();
    await database.drop();
  }
});

function event(overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    kind: 'approved',
    actor: 'U0APPROVER',
    target: 'orders-db',
    runId: RUN_ID,
    requestId: REQUEST_ID,
    data: { planHash: '9f3e5d7c1b2a', approvals: 1, required: 1 },
    ...overrides,
  };
}

/** Runs `runbook-bot audit …` in-process, as cliApp wires it. */
async function auditCli(args: string[], env: NodeJS.ProcessEnv) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let exitCode = 0;
  const program = new Command().exitOverride();
  addAuditCommands(
    program,
    { stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t), env, color: false },
    (code) => {
      exitCode = code;
    },
  );
  let error: unknown;
  try {
    await program.parseAsync(['audit', ...args], { from: 'user' });
  } catch (err) {
    error = err;
  }
  return { stdout, stderr, exitCode, error };
}

async function tamper(database: TestDatabase, sql: string): Promise<void> {
  // What a superuser could do: switch the append-only trigger off, change history, switch it back.
  await database.admin.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
  try {
    await database.admin.query(sql);
  } finally {
    await database.admin.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
  }
}

describe('audit log', () => {
  let state: StateDb;
  beforeAll(async () => {
    state = await stateDb();
  });

  it('chains appends from the genesis hash and verifies them', async () => {
    const first = await state.log.append(
      event({ kind: 'preview', data: { sql: 'SELECT 1', z: 1, a: [2, 1] } }),
    );
    const second = await state.log.append(
      event({
        kind: 'refused',
        // Content jsonb would reject or normalize: it must still hash as stored.
        data: { reason: 'nul \u0000 and lone \uD800 surrogate', nested: { b: 1.5, a: null, big: 1e21 } },
      }),
    );
    const third = await state.log.append(
      event({ actor: 'runbook-bot', target: undefined, requestId: undefined }),
    );

    expect([first.seq, second.seq, third.seq]).toEqual([1, 2, 3]);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(second.prevHash).toBe(first.hash);
    expect(third.prevHash).toBe(second.hash);
    expect(third.target).toBeUndefined();
    expect(second.data).toEqual({
      reason: 'nul \uFFFD and lone \uFFFD surrogate',
      nested: { b: 1.5, a: null, big: 1e21 },
    });
    expect(await state.log.verify()).toEqual({ ok: true, events: 3 });
  });

  it('commits and rolls back with the caller’s transaction, leaving no gap', async () => {
    const client = await state.pool.connect();
    try {
      await client.query('BEGIN');
      await state.log.append(event({ kind: 'expired' }), client);
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      const kept = await state.log.append(event({ kind: 'rejected' }), client);
      await client.query('COMMIT');
      const { rows } = await state.pool.query<{ kind: string }>(
        'SELECT kind FROM audit_events WHERE seq = $1',
        [kept.seq],
      );
      expect(rows[0]?.kind).toBe('rejected');
    } finally {
      client.release();
    }
    const result = await state.log.verify();
    expect(result.ok).toBe(true);
  });

  it('keeps one chain under 50 concurrent appends', async () => {
    const before = await state.log.verify();
    const appended = await Promise.all(
      Array.from({ length: 50 }, (_, i) => state.log.append(event({ kind: 'command', data: { i } }))),
    );
    const seqs = appended.map((e) => e.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => before.events + 1 + i));
    expect(new Set(appended.map((e) => e.prevHash)).size).toBe(50);
    expect(await state.log.verify()).toEqual({ ok: true, events: before.events + 50 });
  });

  it('is append-only in the database, even for a superuser', async () => {
    const admin = state.database.admin;
    await expect(admin.query("UPDATE audit_events SET actor = 'U0MALLORY' WHERE seq = 1")).rejects.toThrow(
      /audit_events is append-only/,
    );
    await expect(admin.query('DELETE FROM audit_events WHERE seq = 2')).rejects.toThrow(
      /audit_events is append-only/,
    );
    await expect(admin.query('TRUNCATE audit_events CASCADE')).rejects.toThrow(/audit_events is append-only/);
    expect((await state.log.verify()).ok).toBe(true);
  });

  it('exports JSON lines in seq order that can be checked without the database', async () => {
    const lines: string[] = [];
    const count = await state.log.exportSince(new Date(0), (line) => lines.push(line));
    expect(count).toBe(lines.length);
    const parsed = lines.map((line) => JSON.parse(line));
    expect(parsed.map((line) => line.seq)).toEqual(parsed.map((_, i) => i + 1));
    let prevHash = GENESIS_HASH;
    for (const { prevHash: linePrev, hash, ...content } of parsed) {
      expect(content.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      expect(linePrev).toBe(prevHash);
      expect(hashEvent(prevHash, content)).toBe(hash);
      prevHash = hash;
    }

    const cutoff = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = await state.log.append(event({ kind: 'verification', data: { after: 'idle=0' } }));
    const recent: string[] = [];
    expect(await state.log.exportSince(cutoff, (line) => recent.push(line))).toBe(1);
    expect(JSON.parse(recent[0]!)).toMatchObject({ seq: later.seq, kind: 'verification', runId: RUN_ID });
  });

  it('runs `audit verify` and `audit export` from the command line', async () => {
    const env = { DATABASE_URL: state.database.url };
    const verified = await auditCli(['verify'], env);
    expect(verified.error).toBeUndefined();
    expect(verified.exitCode).toBe(0);
    expect(verified.stdout).toEqual([expect.stringMatching(/^audit chain intact: \d+ events$/)]);

    const exported = await auditCli(['export', '--since', '24h'], env);
    expect(exported.error).toBeUndefined();
    expect(exported.stdout.length).toBeGreaterThan(50);
    expect(exported.stdout.map((line) => JSON.parse(line).seq)).toEqual(exported.stdout.map((_, i) => i + 1));
    const none = await auditCli(['export', '--since', '2999-01-01'], env);
    expect(none.stdout).toEqual([]);

    const unset = await auditCli(['verify'], {});
    expect(unset.error).toBeInstanceOf(UserError);
    expect((unset.error as Error).message).toMatch(/set DATABASE_URL/);
    const badSince = await auditCli(['export', '--since', 'yesterday'], env);
    expect(badSince.error).toBeInstanceOf(UserError);
  });

  it('tells the user to migrate when the state database has no audit table', async () => {
    const bare = await createTestDatabase(server!.url, { demoSchema: false });
    try {
      const result = await auditCli(['verify'], { DATABASE_URL: bare.url });
      expect(result.error).toBeInstanceOf(UserError);
      expect((result.error as Error).message).toMatch(/no audit log yet: start the bot/);
    } finally {
      await bare.drop();
    }
  });
});

describe('audit verify on tampered history', () => {
  it('names a row whose content was changed', async () => {
    const { database, log } = await stateDb();
    for (let i = 0; i < 5; i++) await log.append(event({ data: { i } }));
    await tamper(database, `UPDATE audit_events SET data = '{"i": 99}' WHERE seq = 3`);
    expect(await log.verify()).toEqual({
      ok: false,
      events: 2,
      brokenAt: 3,
      reason: "hash does not match the row's content",
    });
    const cli = await auditCli(['verify'], { DATABASE_URL: database.url });
    expect(cli.stdout).toEqual(["audit chain broken at seq 3: hash does not match the row's content"]);
    expect(cli.exitCode).toBe(2);
  });

  it('names the next link when a changed row was re-hashed', async () => {
    const { database, log } = await stateDb();
    for (let i = 0; i < 4; i++) await log.append(event({ data: { i } }));
    const { rows } = await database.admin.query<{ prev_hash: string; at: string; hash: string }>(
      `SELECT prev_hash, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
         FROM audit_events WHERE seq = 2`,
    );
    const forged = hashEvent(rows[0]!.prev_hash, {
      seq: 2,
      at: rows[0]!.at,
      kind: 'approved',
      actor: 'U0MALLORY',
      target: 'orders-db',
      runId: RUN_ID,
      requestId: REQUEST_ID,
      incidentId: null,
      data: { i: 1 },
    });
    await tamper(database, `UPDATE audit_events SET actor = 'U0MALLORY', hash = '${forged}' WHERE seq = 2`);
    expect(await log.verify()).toMatchObject({
      ok: false,
      brokenAt: 3,
      reason: 'prev_hash does not match the hash of seq 2',
    });
  });

  it('reports the gap a deleted row leaves', async () => {
    const { database, log } = await stateDb();
    for (let i = 0; i < 5; i++) await log.append(event({ data: { i } }));
    await tamper(database, 'DELETE FROM audit_events WHERE seq = 3');
    expect(await log.verify()).toEqual({
      ok: false,
      events: 2,
      brokenAt: 3,
      reason: 'seq 3 missing (the next row is seq 4)',
    });
  });
});

describe('audit mirror', () => {
  const CHANNEL = 'C0INCIDENT';
  const THREAD = '1700000000.000100';
  const slack = new WebClient(BOT_TOKEN, { retryConfig: { retries: 0 } });

  afterEach(() => nock.cleanAll());

  /** chat.postMessage answered by `replies` in order, then ok; what Slack accepted is recorded. */
  function interceptSlack(replies: Array<[number, object]>, delayMs = 0) {
    const accepted: Array<{ text: string; threadTs: string | null }> = [];
    let calls = 0;
    nock('https://slack.com')
      .persist()
      .post('/api/chat.postMessage')
      .delay(delayMs)
      .reply((_uri, body) => {
        const reply = replies[calls];
        calls += 1;
        if (reply) return reply;
        const params = new URLSearchParams(body as string);
        accepted.push({ text: params.get('text') ?? '', threadTs: params.get('thread_ts') });
        return [200, { ok: true, ts: `1700000001.${String(calls).padStart(6, '0')}` }];
      });
    return { accepted, calls: () => calls };
  }

  async function appendSteps(log: AuditLog, count: number, mirror: AuditEventInput['mirror']) {
    const appended = [];
    for (let i = 1; i <= count; i++)
      appended.push(await log.append(event({ kind: 'manual_step', data: { step: `s${i}` }, mirror })));
    return appended;
  }

  async function unposted(pool: pg.Pool): Promise<number> {
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM audit_outbox WHERE posted_ts IS NULL',
    );
    return rows[0]!.n;
  }

  it('posts every event of a thread once, in order, across failed attempts', async () => {
    const { pool, log } = await stateDb();
    const events = await appendSteps(log, 5, { channel: CHANNEL, threadTs: THREAD });
    const elsewhere = await log.append(
      event({
        kind: 'manual_step',
        data: { step: 'other' },
        mirror: { channel: CHANNEL, threadTs: '1700.2' },
      }),
    );
    const last = events.at(-1)!;
    const slackApi = interceptSlack([
      [500, { ok: false }],
      [200, { ok: true, ts: '1700000001.000002' }],
      [200, { ok: false, error: 'internal_error' }],
      [200, { ok: false, error: 'internal_error' }],
    ]);
    const job = auditMirrorJobSchema.parse({ channel: CHANNEL, threadTs: THREAD, upToSeq: last.seq });

    // What BullMQ's retries do: call again after each failure until it completes.
    let failures = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await postAuditMirror({ db: pool, audit: log, slack }, job);
        break;
      } catch {
        failures += 1;
      }
    }
    expect(failures).toBe(3);
    // The second call's first post (seq 1) was accepted by the scripted reply, not recorded.
    expect(slackApi.accepted.map((post) => post.text)).toEqual(events.slice(1).map((e) => auditEventText(e)));
    expect(slackApi.accepted.every((post) => post.threadTs === THREAD)).toBe(true);
    expect(await log.nextToMirror(CHANNEL, THREAD, last.seq)).toBeUndefined();
    expect((await log.nextToMirror(CHANNEL, '1700.2', elsewhere.seq))?.seq).toBe(elsewhere.seq);
    const unposted = await pool.query<{ seq: string }>(
      "SELECT seq FROM audit_outbox WHERE posted_ts IS NULL AND thread_ts = '1700.2'",
    );
    expect(unposted.rows.map((row) => Number(row.seq))).toEqual([elsewhere.seq]);
    const { rows } = await pool.query<{ seq: string; posted_ts: string }>(
      'SELECT seq, posted_ts FROM audit_outbox WHERE posted_ts IS NOT NULL ORDER BY seq',
    );
    expect(rows.map((row) => Number(row.seq))).toEqual(events.map((e) => e.seq));
    expect(rows[0]!.posted_ts).toBe('1700000001.000002');

    // A later retry of the same job finds nothing left to post.
    const before = slackApi.calls();
    await postAuditMirror({ db: pool, audit: log, slack }, job);
    expect(slackApi.calls()).toBe(before);
  });

  it('keeps order without duplicates when two jobs of a thread run at once', async () => {
    const { pool, log } = await stateDb();
    const events = await appendSteps(log, 8, { channel: CHANNEL, threadTs: THREAD });
    const beyond = await log.append(
      event({ kind: 'expired', mirror: { channel: CHANNEL, threadTs: THREAD } }),
    );
    const slackApi = interceptSlack([], 15);
    const deps = { db: pool, audit: log, slack };
    await Promise.all([
      postAuditMirror(deps, { channel: CHANNEL, threadTs: THREAD, upToSeq: events[3]!.seq }),
      postAuditMirror(deps, { channel: CHANNEL, threadTs: THREAD, upToSeq: events.at(-1)!.seq }),
      postAuditMirror(deps, { channel: CHANNEL, threadTs: THREAD, upToSeq: events.at(-1)!.seq }),
    ]);
    expect(slackApi.accepted.map((post) => post.text)).toEqual(events.map((e) => auditEventText(e)));
    // upToSeq bounds a job: the event after it waits for its own job.
    expect(await unposted(pool)).toBe(1);
    await postAuditMirror(deps, { channel: CHANNEL, threadTs: THREAD, upToSeq: beyond.seq });
    expect(slackApi.accepted.at(-1)?.text).toBe(auditEventText(beyond));
    expect(await unposted(pool)).toBe(0);
  });

  it('holds no transaction open while Slack answers', async () => {
    const { pool, log, database } = await stateDb();
    const [first] = await appendSteps(log, 1, { channel: CHANNEL, threadTs: THREAD });
    const during: number[] = [];
    nock('https://slack.com')
      .post('/api/chat.postMessage')
      .delay(500)
      .reply(200, async () => {
        // Sessions of this database left idle in a transaction while the post is in flight.
        const { rows } = await database.admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
        );
        during.push(rows[0]!.n);
        return { ok: true, ts: '1700000001.000001' };
      });
    await postAuditMirror(
      { db: pool, audit: log, slack },
      { channel: CHANNEL, threadTs: THREAD, upToSeq: first!.seq },
    );
    expect(during).toEqual([0]);
    expect(await log.nextToMirror(CHANNEL, THREAD, first!.seq)).toBeUndefined();
  });

  it('posts events without a thread at the top of the channel', async () => {
    const { pool, log } = await stateDb();
    const [first] = await appendSteps(log, 1, { channel: CHANNEL });
    const slackApi = interceptSlack([]);
    await postAuditMirror(
      { db: pool, audit: log, slack },
      { channel: CHANNEL, threadTs: null, upToSeq: first!.seq },
    );
    expect(slackApi.accepted).toEqual([{ text: auditEventText(first!), threadTs: null }]);
  });

  it('writes one short, escaped, redacted line per event', () => {
    const base = { seq: 1, at: new Date(), prevHash: GENESIS_HASH, hash: 'f'.repeat(64) };
    expect(
      auditEventText({
        ...base,
        ...event({ data: { planHash: '9f3e5d7c1b2a', approvals: 1, required: 2 } }),
      }),
    ).toBe(':white_check_mark: <@U0APPROVER> approved request 1a2b3c4d… (plan 9f3e5d7c…, 1 of 2)');
    const started = auditEventText({
      ...base,
      ...event({
        kind: 'execution_started',
        actor: 'runbook-bot',
        data: {
          sql: 'SELECT pg_terminate_backend(pid) FROM x WHERE a < 1 AND b > 2 -- postgres://u:hunter2@db/x',
        },
      }),
    });
    expect(started).toMatch(
      /^:rocket: execution started: `SELECT pg_terminate_backend\(pid\) FROM x WHERE a &lt; 1 AND b &gt; 2/,
    );
    expect(started).not.toContain('hunter2');
    const refused = auditEventText({
      ...base,
      ...event({ kind: 'refused', actor: 'U0X', data: { reason: 'You <b>cannot</b> & never' } }),
    });
    expect(refused).toBe(
      ':no_entry: <@U0X> was refused on request 1a2b3c4d…: You &lt;b&gt;cannot&lt;/b&gt; &amp; never',
    );
  });
});

describe('audit export --since', () => {
  it('takes durations and ISO dates', () => {
    const now = new Date('2024-11-27T12:00:00Z');
    expect(parseSince('24h', now).toISOString()).toBe('2024-11-26T12:00:00.000Z');
    expect(parseSince('7d', now).toISOString()).toBe('2024-11-20T12:00:00.000Z');
    expect(parseSince('90m', now).toISOString()).toBe('2024-11-27T10:30:00.000Z');
    expect(parseSince('2024-11-01', now).toISOString()).toBe('2024-11-01T00:00:00.000Z');
    expect(parseSince('2024-11-01T08:30:00Z', now).toISOString()).toBe('2024-11-01T08:30:00.000Z');
    expect(() => parseSince('last week', now)).toThrow(UserError);
    // A duration too long for a date is refused as such, not sent to the database.
    expect(() => parseSince('99999999999d', now)).toThrow(/--since must be/);
  });
});
