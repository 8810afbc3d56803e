import { WebClient } from '@slack/web-api';
import { Command } from 'commander';
import nock from 'nock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { AuditLog, GENESIS_HASH, hashEvent } from '../../src/audit/auditLog.js';
import { formatCheckpoint, makeCheckpoint, parseCheckpoint } from '../../src/audit/checkpoint.js';
import type { AuditEventInput } from '../../src/audit/events.js';
import { UserError } from '../../src/errors.js';
import { checkpointIfDue } from '../../src/slack/posts/auditCheckpoints.js';
import { postAuditMirror } from '../../src/slack/posts/auditMirror.js';
import { auditLine } from '../../src/slack/views/auditLine.js';
import { nextToMirror } from '../../src/store/auditOutbox.js';
import { migrateStateDatabase } from '../../src/store/migrate.js';
import { addAuditCommands, parseSince } from '../../src/terminal/auditCli.js';
import { auditEventJson } from '../../src/terminal/auditText.js';
import { captureLogs } from '../support/botHarness.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { BOT_TOKEN, type HeldMessage, interceptHistory, postKeyOf } from '../support/slack.js';

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
    const count = await state.log.readSince(new Date(0), (stored) => lines.push(auditEventJson(stored)));
    expect(count).toBe(lines.length);
    const parsed = lines.map((line) => JSON.parse(line));
    expect(parsed.map((line) => line.seq)).toEqual(parsed.map((_, i) => i + 1));
    let prevHash = GENESIS_HASH;
    for (const { prevHash: linePrev, hash, hashScheme, ...content } of parsed) {
      expect(hashScheme).toBe('sha256');
      expect(content.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      expect(linePrev).toBe(prevHash);
      expect(hashEvent(prevHash, content)).toBe(hash);
      prevHash = hash;
    }

    const cutoff = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = await state.log.append(event({ kind: 'verification', data: { after: 'idle=0' } }));
    const recent: string[] = [];
    expect(await state.log.readSince(cutoff, (stored) => recent.push(auditEventJson(stored)))).toBe(1);
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
    const text = await auditCli(['export', '--since', '24h', '--format', 'text'], env);
    expect(text.stdout).toHaveLength(exported.stdout.length);
    expect(text.stdout[0]).toMatch(/^#1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ U0APPROVER previewed: SELECT 1$/);
    const xml = await auditCli(['export', '--since', '24h', '--format', 'xml'], env);
    expect(xml.error).toBeInstanceOf(UserError);
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

const KEY = 'a-test-audit-hmac-key-0123456789abcdef';

/**
 * What someone with write access and no key can do: change row `changeSeq`'s actor, then
 * re-hash every row from the genesis hash so each link matches again, labelled `scheme`.
 */
async function rehashChain(
  database: TestDatabase,
  options: { changeSeq: number; scheme: 'sha256' | 'hmac-sha256' },
): Promise<void> {
  const { rows } = await database.admin.query<{
    seq: string;
    at: string;
    kind: string;
    actor: string;
    target: string | null;
    run_id: string | null;
    request_id: string | null;
    incident_id: string | null;
    data: unknown;
  }>(
    `SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, kind, actor, target,
            run_id, request_id, incident_id, data
       FROM audit_events ORDER BY seq`,
  );
  let prevHash = GENESIS_HASH;
  const updates: string[] = [];
  for (const row of rows) {
    const seq = Number(row.seq);
    const actor = seq === options.changeSeq ? 'U0MALLORY' : row.actor;
    const hash = hashEvent(prevHash, {
      seq,
      at: row.at,
      kind: row.kind,
      actor,
      target: row.target,
      runId: row.run_id,
      requestId: row.request_id,
      incidentId: row.incident_id,
      data: row.data,
    });
    updates.push(
      `UPDATE audit_events SET actor = '${actor}', prev_hash = '${prevHash}', hash = '${hash}', hash_scheme = '${options.scheme}' WHERE seq = ${seq}`,
    );
    prevHash = hash;
  }
  await tamper(database, updates.join(';\n'));
}

async function checkpointOf(log: AuditLog, key?: string): Promise<string> {
  return formatCheckpoint(makeCheckpoint({ ...(await log.head()), at: new Date().toISOString() }, key));
}

describe('audit anchors outside the database', () => {
  it('a checkpoint shows rows removed from the end, which the chain alone cannot', async () => {
    const { database, log } = await stateDb();
    for (let i = 0; i < 5; i++) await log.append(event({ data: { i } }));
    const line = await checkpointOf(log);
    expect(line).toMatch(/^audit-checkpoint v1 count=5 head=[0-9a-f]{64} keyed-from=none at=\S+ mac=none$/);
    expect(await log.verify({ checkpoint: parseCheckpoint(line) })).toEqual({ ok: true, events: 5 });

    await tamper(database, 'DELETE FROM audit_events WHERE seq >= 4');
    expect(await log.verify()).toEqual({ ok: true, events: 3 });
    expect(await log.verify({ checkpoint: parseCheckpoint(line) })).toMatchObject({
      ok: false,
      brokenAt: 4,
      reason: expect.stringMatching(/counted 5 events, the log has 3: seqs 4–5 removed from the end$/),
    });
    // As posted in Slack, copied with the text around it.
    const posted = `:lock: Audit log checkpoint. To check the log against it: …\n\`${line}\``;
    const cli = await auditCli(['verify', '--checkpoint', posted], { DATABASE_URL: database.url });
    expect(cli.error).toBeUndefined();
    expect(cli.exitCode).toBe(2);
    expect(cli.stdout).toEqual([
      expect.stringMatching(/^audit chain broken at seq 4: .*seqs 4–5 removed from the end$/),
    ]);

    // Rows appended after the truncation bring the count back, not the hash.
    await log.append(event({ data: { i: 'new 4' } }));
    await log.append(event({ data: { i: 'new 5' } }));
    expect(await log.verify({ checkpoint: parseCheckpoint(line) })).toMatchObject({
      ok: false,
      brokenAt: 5,
      reason: expect.stringMatching(
        /^seq 5 hashes to [0-9a-f]{12}…, the checkpoint of .* says [0-9a-f]{12}…: the chain up to it was rewritten$/,
      ),
    });
    const bad = await auditCli(['verify', '--checkpoint', 'audit-checkpoint v1 count=x'], {
      DATABASE_URL: database.url,
    });
    expect(bad.error).toBeInstanceOf(UserError);
    expect((bad.error as Error).message).toMatch(/head= is missing.*count must be a whole number, got "x"/);
  });

  it('with AUDIT_HMAC_KEY, a chain changed and re-hashed by someone without the key is refused', async () => {
    const { database, pool } = await stateDb();
    const keyed = new AuditLog(pool, { hmacKey: KEY });
    const unkeyed = new AuditLog(pool);
    for (let i = 0; i < 4; i++) await keyed.append(event({ data: { i } }));
    const { rows } = await pool.query<{ hash_scheme: string }>(
      'SELECT DISTINCT hash_scheme FROM audit_events',
    );
    expect(rows).toEqual([{ hash_scheme: 'hmac-sha256' }]);
    expect(await keyed.verify()).toEqual({ ok: true, events: 4 });
    const signed = await checkpointOf(keyed, KEY);
    expect(signed).toMatch(/keyed-from=1 at=\S+ mac=[0-9a-f]{64}$/);

    // Without the key, keyed rows are not taken on trust: it says the key is needed.
    expect(await unkeyed.verify()).toMatchObject({ ok: false, needsKey: true, brokenAt: 1 });
    const noKey = await auditCli(['verify'], { DATABASE_URL: database.url });
    expect(noKey.exitCode).toBe(3);
    expect(noKey.stdout).toEqual([
      expect.stringMatching(/^audit chain not verified: .*set it to verify them/),
    ]);

    await rehashChain(database, { changeSeq: 2, scheme: 'sha256' });
    // The unkeyed chain is perfect: without the key, nothing can tell.
    expect(await unkeyed.verify()).toEqual({ ok: true, events: 4 });
    expect(await keyed.verify()).toMatchObject({
      ok: false,
      brokenAt: 1,
      reason: expect.stringMatching(/^hashed without AUDIT_HMAC_KEY/),
    });
    const withKey = await auditCli(['verify'], { DATABASE_URL: database.url, AUDIT_HMAC_KEY: KEY });
    expect(withKey.exitCode).toBe(2);
    expect(withKey.stdout).toEqual([
      expect.stringMatching(/^audit chain broken at seq 1: hashed without AUDIT_HMAC_KEY/),
    ]);
    // The signed checkpoint refuses it as well, even granting that the rows were unkeyed.
    expect(await keyed.verify({ checkpoint: parseCheckpoint(signed), unkeyedUntil: 4 })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/hashed without AUDIT_HMAC_KEY, yet keyed rows begin after seq 0/),
    });
    expect(
      await keyed.verify({
        unkeyedUntil: 4,
        checkpoint: parseCheckpoint(signed.replace('mac=', 'mac=0').slice(0, -1)),
      }),
    ).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/mac does not match AUDIT_HMAC_KEY/),
    });

    // Labelled keyed but hashed without the key: the HMAC does not match.
    await rehashChain(database, { changeSeq: 2, scheme: 'hmac-sha256' });
    expect(await keyed.verify()).toMatchObject({
      ok: false,
      brokenAt: 1,
      reason: expect.stringMatching(/under AUDIT_HMAC_KEY/),
    });
    // A checkpoint made for the forged chain without the key carries no valid mac.
    const forged = await checkpointOf(unkeyed, 'not-the-key-but-32-characters-long!!');
    expect(await keyed.verify({ checkpoint: parseCheckpoint(forged) })).toMatchObject({
      ok: false,
      forgedCheckpoint: true,
      reason: expect.stringMatching(/mac does not match/),
    });
  });

  it('rows written before the key was set still verify, when the operator or a signed checkpoint says where keyed rows begin', async () => {
    const { database, pool, log } = await stateDb();
    const keyed = new AuditLog(pool, { hmacKey: KEY });
    await log.append(event({ data: { i: 1 } }));
    await log.append(event({ data: { i: 2 } }));
    await keyed.append(event({ data: { i: 3 } }));
    await keyed.append(event({ data: { i: 4 } }));
    expect(await keyed.verify()).toMatchObject({
      ok: false,
      brokenAt: 1,
      reason: expect.stringMatching(/--unkeyed-until/),
    });
    expect(await keyed.verify({ unkeyedUntil: 2 })).toEqual({ ok: true, events: 4 });
    const signed = await checkpointOf(keyed, KEY);
    expect(signed).toContain('keyed-from=3');
    expect(await keyed.verify({ checkpoint: parseCheckpoint(signed) })).toEqual({ ok: true, events: 4 });
    const cli = await auditCli(['verify', '--checkpoint', signed], {
      DATABASE_URL: database.url,
      AUDIT_HMAC_KEY: KEY,
    });
    expect(cli.stdout).toEqual([
      expect.stringMatching(/^audit chain intact: 4 events, matching the checkpoint of /),
    ]);
    const printed = await auditCli(['checkpoint'], { DATABASE_URL: database.url, AUDIT_HMAC_KEY: KEY });
    expect(printed.stdout).toEqual([
      expect.stringMatching(/^audit-checkpoint v1 count=4 .* keyed-from=3 .* mac=[0-9a-f]{64}$/),
    ]);
    // An unkeyed row after keyed ones is what a writer without the key appends.
    await log.append(event({ data: { i: 5 } }));
    expect(await keyed.verify({ unkeyedUntil: 2 })).toMatchObject({
      ok: false,
      brokenAt: 5,
      reason: expect.stringMatching(/after keyed rows/),
    });
  });
});

describe('audit checkpoints in Slack', () => {
  afterEach(() => nock.cleanAll());

  it('posts a signed checkpoint when the log has grown, once, and it verifies the log', async () => {
    const { database, pool } = await stateDb();
    const keyed = new AuditLog(pool, { hmacKey: KEY });
    const slack = new WebClient(BOT_TOKEN, { retryConfig: { retries: 0 } });
    const posted: Array<{ channel: string; text: string; postKey?: string; ts: string }> = [];
    let failNext = true;
    nock('https://slack.com')
      .persist()
      .post('/api/chat.postMessage')
      .reply((_uri, body) => {
        const params = new URLSearchParams(body as string);
        if (failNext) {
          failNext = false;
          return [200, { ok: false, error: 'internal_error' }];
        }
        const ts = `1700000300.${String(posted.length + 1).padStart(6, '0')}`;
        posted.push({
          channel: params.get('channel') ?? '',
          text: params.get('text') ?? '',
          postKey: postKeyOf(params),
          ts,
        });
        return [200, { ok: true, ts }];
      });
    interceptHistory(() => posted);
    const deps = {
      db: pool,
      audit: keyed,
      slack,
      logger: captureLogs().logger,
      channel: 'C0AUDIT',
      hmacKey: KEY,
    };
    const policy = { everyMs: 60_000, maxAgeMs: 3_600_000, afterEvents: 3 };

    expect(await checkpointIfDue(deps, policy)).toBeUndefined(); // an empty log: nothing to anchor
    for (let i = 0; i < 2; i++) await keyed.append(event({ data: { i } }));
    await expect(checkpointIfDue(deps, policy)).rejects.toThrow(/internal_error/);
    // The failed post is posted by the next look, the same line, not a newer one.
    const first = await checkpointIfDue(deps, policy);
    expect(first).toMatch(/^audit-checkpoint v1 count=2 .* mac=[0-9a-f]{64}$/);
    expect(posted).toEqual([
      expect.objectContaining({ channel: 'C0AUDIT', postKey: expect.stringMatching(/^audit-checkpoint:/) }),
    ]);
    expect(posted[0]!.text).toContain(first);

    await keyed.append(event({ data: { i: 2 } }));
    expect(await checkpointIfDue(deps, policy)).toBeUndefined(); // grown by 1 of 3, and not an hour old
    const anHourOn = new Date(Date.now() + 3_600_000);
    expect(await checkpointIfDue(deps, policy, anHourOn)).toMatch(/count=3 /);
    expect(posted).toHaveLength(2);

    // What was posted is what `audit verify --checkpoint` takes, copied from Slack.
    const cli = await auditCli(['verify', '--checkpoint', posted[1]!.text], {
      DATABASE_URL: database.url,
      AUDIT_HMAC_KEY: KEY,
    });
    expect(cli.stdout).toEqual([
      expect.stringMatching(/^audit chain intact: 3 events, matching the checkpoint/),
    ]);
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
    // Every message Slack took, scripted ones included: what a retry's lookup finds.
    const held: HeldMessage[] = [];
    let calls = 0;
    nock('https://slack.com')
      .persist()
      .post('/api/chat.postMessage')
      .delay(delayMs)
      .reply((_uri, body) => {
        const reply = replies[calls];
        calls += 1;
        const params = new URLSearchParams(body as string);
        const hold = (ts: string) =>
          held.push({
            channel: params.get('channel') ?? '',
            ts,
            threadTs: params.get('thread_ts') ?? undefined,
            postKey: postKeyOf(params),
          });
        if (reply) {
          const ts = (reply[1] as { ok?: boolean; ts?: string }).ts;
          if (reply[0] === 200 && ts) hold(ts);
          return reply;
        }
        accepted.push({ text: params.get('text') ?? '', threadTs: params.get('thread_ts') });
        const ts = `1700000001.${String(calls).padStart(6, '0')}`;
        hold(ts);
        return [200, { ok: true, ts }];
      });
    const history = interceptHistory(() => held);
    return { accepted, held, calls: () => calls, lookups: history.lookups };
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
    const job = { channel: CHANNEL, threadTs: THREAD, upToSeq: last.seq };

    // What BullMQ's retries do: call again after each failure until it completes.
    let failures = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await postAuditMirror({ db: pool, slack }, job);
        break;
      } catch {
        failures += 1;
      }
    }
    expect(failures).toBe(3);
    // The second call's first post (seq 1) was accepted by the scripted reply, not recorded.
    expect(slackApi.accepted.map((post) => post.text)).toEqual(events.slice(1).map((e) => auditLine(e)));
    expect(slackApi.accepted.every((post) => post.threadTs === THREAD)).toBe(true);
    expect(
      await nextToMirror(pool, { channel: CHANNEL, threadTs: THREAD, upToSeq: last.seq }),
    ).toBeUndefined();
    expect(
      (await nextToMirror(pool, { channel: CHANNEL, threadTs: '1700.2', upToSeq: elsewhere.seq }))?.seq,
    ).toBe(elsewhere.seq);
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
    await postAuditMirror({ db: pool, slack }, job);
    expect(slackApi.calls()).toBe(before);
  });

  it('keeps order without duplicates when two jobs of a thread run at once', async () => {
    const { pool, log } = await stateDb();
    const events = await appendSteps(log, 8, { channel: CHANNEL, threadTs: THREAD });
    const beyond = await log.append(
      event({ kind: 'expired', mirror: { channel: CHANNEL, threadTs: THREAD } }),
    );
    const slackApi = interceptSlack([], 15);
    const deps = { db: pool, slack };
    await Promise.all([
      postAuditMirror(deps, { channel: CHANNEL, threadTs: THREAD, upToSeq: events[3]!.seq }),
      postAuditMirror(deps, { channel: CHANNEL, threadTs: THREAD, upToSeq: events.at(-1)!.seq }),
      postAuditMirror(deps, { channel: CHANNEL, threadTs: THREAD, upToSeq: events.at(-1)!.seq }),
    ]);
    expect(slackApi.accepted.map((post) => post.text)).toEqual(events.map((e) => auditLine(e)));
    // upToSeq bounds a job: the event after it waits for its own job.
    expect(await unposted(pool)).toBe(1);
    await postAuditMirror(deps, { channel: CHANNEL, threadTs: THREAD, upToSeq: beyond.seq });
    expect(slackApi.accepted.at(-1)?.text).toBe(auditLine(beyond));
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
    await postAuditMirror({ db: pool, slack }, { channel: CHANNEL, threadTs: THREAD, upToSeq: first!.seq });
    expect(during).toEqual([0]);
    expect(
      await nextToMirror(pool, { channel: CHANNEL, threadTs: THREAD, upToSeq: first!.seq }),
    ).toBeUndefined();
  });

  it('posts events without a thread at the top of the channel', async () => {
    const { pool, log } = await stateDb();
    const [first] = await appendSteps(log, 1, { channel: CHANNEL });
    const slackApi = interceptSlack([]);
    await postAuditMirror({ db: pool, slack }, { channel: CHANNEL, threadTs: null, upToSeq: first!.seq });
    expect(slackApi.accepted).toEqual([{ text: auditLine(first!), threadTs: null }]);
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
