/**
 * The lab the scenarios run in: state and target Postgres, Redis, the Slack stand-in and the
 * bot's processes in one of two topologies, plus the user-level flows (a command, a
 * procedure run, Preview, Request approval, Approve) the scenarios are written in.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import {
  type Answer,
  acked,
  BOT_TOKEN,
  BotProcess,
  blockActionBody,
  commandBody,
  ensureDir,
  freePort,
  type Postgres,
  postToBot,
  type Redis,
  SIGNING_SECRET,
  StandInSlack,
  startPostgres,
  startRedis,
  suitePool,
  tempDir,
  until,
} from './harness.js';

export type TopologyKind = 'all' | 'bot+worker';

export interface Topology {
  kind: TopologyKind;
  /** The process that receives Slack's requests (the bot, or the `all` process). */
  bot: BotProcess;
  /** The process that runs jobs (the worker, or the `all` process). */
  worker: BotProcess;
  procs: BotProcess[];
}

export interface Lab {
  state: Postgres;
  target: Postgres;
  redis: Redis;
  slack: StandInSlack;
  /** The suite's own sessions (never terminated by a fault). */
  stateDb: pg.Pool;
  targetDb: pg.Pool;
  env: NodeJS.ProcessEnv;
  logDir: string;
  short: boolean;
  topology?: Topology;
  ports: { bot: number; worker: number; all: number };
}

/** The runbook the scenarios run: each procedure is one kind of work a fault can hit. */
export const CHAOS_RUNBOOK = `# Chaos

Procedures the chaos suite runs against its own target database.

## Slow check

**Diagnosis:**
\`\`\`sql
-- Rows of the slow table
SELECT count(*) AS n FROM chaos_slow;
\`\`\`

## Bump counter

**Diagnosis:**
\`\`\`sql
-- The counter now
SELECT n FROM chaos_counter WHERE id = {{row}};
\`\`\`

**Fix:**
\`\`\`sql
-- Bump the counter
UPDATE chaos_counter SET n = n + 1 WHERE id = {{row}};
\`\`\`

## Session view

**Diagnosis:**
\`\`\`sql
-- Sessions the view lists
SELECT * FROM chaos_sessions;
\`\`\`

## Stamp rows

**Fix:**
\`\`\`sql
-- Touch the stamped row
UPDATE chaos_stamped SET touched = touched + 1 WHERE id = 1;
\`\`\`
`;

/**
 * The target's objects. \`chaos_sessions\` is a view whose SELECT terminates backends and
 * \`chaos_stamped\` has a trigger that advances a sequence: effects a statement's text does
 * not show (issue 14, section 3).
 */
const TARGET_SCHEMA = `
CREATE TABLE chaos_counter (id text PRIMARY KEY, n int NOT NULL DEFAULT 0);
CREATE TABLE chaos_slow (id int);
CREATE VIEW chaos_sessions AS
  SELECT pid, pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'chaos-victim';
CREATE SEQUENCE chaos_seq;
CREATE TABLE chaos_stamped (id int PRIMARY KEY, touched int NOT NULL DEFAULT 0, stamp bigint);
CREATE FUNCTION chaos_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.stamp := nextval('chaos_seq'); RETURN NEW; END $$;
CREATE TRIGGER chaos_stamp BEFORE UPDATE ON chaos_stamped FOR EACH ROW EXECUTE FUNCTION chaos_stamp();
INSERT INTO chaos_stamped (id) VALUES (1);
`;

export async function startLab(short: boolean): Promise<Lab> {
  const work = await tempDir('lab');
  const logDir = ensureDir(process.env.CHAOS_LOG_DIR ?? join(work, 'logs'));
  const runbooksDir = ensureDir(join(work, 'runbooks'));
  writeFileSync(join(runbooksDir, 'chaos.md'), CHAOS_RUNBOOK);
  const slack = new StandInSlack();
  const [state, target, redis] = await Promise.all([
    startPostgres('state'),
    startPostgres('target'),
    startRedis(),
    slack.start(),
  ]);
  const targetDb = suitePool(target.url());
  await targetDb.query(TARGET_SCHEMA);
  // Long timeouts on purpose: a statement waiting on the suite's lock is "mid-statement"
  // for as long as the scenario needs, not cut short by the bot's own timeout.
  const targetsFile = join(work, 'targets.yml');
  writeFileSync(
    targetsFile,
    'targets:\n  chaos:\n    url_env: CHAOS_TARGET_URL\n    lock_timeout_ms: 60000\n    statement_timeout_ms: 60000\n',
  );
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: state.url(),
    REDIS_URL: redis.url,
    TARGETS_FILE: targetsFile,
    CHAOS_TARGET_URL: target.url(),
    RUNBOOKS_DIR: runbooksDir,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    // A killed worker's job is taken over after this, not after the default 30 s.
    JOB_LOCK_MS: '5000',
  };
  const [bot, worker, all] = await Promise.all([freePort(), freePort(), freePort()]);
  return {
    state,
    target,
    redis,
    slack,
    stateDb: suitePool(state.url()),
    targetDb,
    env,
    logDir,
    short,
    ports: { bot, worker, all },
  };
}

/** The topology a scenario needs; the current one is kept when it is that and alive. */
export async function useTopology(lab: Lab, kind: TopologyKind): Promise<Topology> {
  const current = lab.topology;
  if (current?.kind === kind && current.procs.every((proc) => proc.running())) return current;
  if (current) await stopTopology(lab);
  let topology: Topology;
  if (kind === 'all') {
    const all = new BotProcess('all', 'all', lab.ports.all, lab.env, lab.logDir);
    topology = { kind, bot: all, worker: all, procs: [all] };
  } else {
    const bot = new BotProcess('bot', 'bot', lab.ports.bot, lab.env, lab.logDir);
    const worker = new BotProcess('worker', 'worker', lab.ports.worker, lab.env, lab.logDir);
    topology = { kind, bot, worker, procs: [worker, bot] };
  }
  lab.topology = topology;
  // One after the other: both migrate the state database at start.
  for (const proc of topology.procs) await proc.start();
  return topology;
}

export async function stopTopology(lab: Lab): Promise<void> {
  const current = lab.topology;
  lab.topology = undefined;
  if (current) await Promise.all(current.procs.map((proc) => proc.stop('SIGTERM', 30_000)));
}

// ---------------------------------------------------------------- what people do in Slack

let sequence = 0;
/** A fresh id for a trigger, a channel or a counter row. */
export const fresh = (prefix: string) =>
  `${prefix}${Date.now().toString(36)}${(++sequence).toString(36)}`.toUpperCase();

export interface Sent {
  answer: Answer;
  /** The id of its response URL: what the bot said later through it. */
  responseId: string;
}

export async function command(lab: Lab, text: string, user: string, channel: string): Promise<Sent> {
  const trigger = fresh('T');
  const body = commandBody({ text, user, channel, trigger, responseUrl: lab.slack.responseUrl(trigger) });
  return { answer: await postToBot(lab.topology!.bot.port, body), responseId: trigger };
}

export async function click(
  lab: Lab,
  click: { actionId: string; value: string; user: string; channel: string; messageTs: string },
): Promise<Sent> {
  const id = fresh('A');
  const body = blockActionBody({
    ...click,
    responseUrl: lab.slack.responseUrl(id),
    actionTs: `${Date.now() / 1000}${sequence}`,
  });
  return { answer: await postToBot(lab.topology!.bot.port, body), responseId: id };
}

export interface ProcedureRun {
  id: string;
  channel: string;
  rootTs?: string;
}

/** `/runbook run <procedure> chaos …` in a channel of its own; resolves once the run is recorded. */
export async function runProcedure(
  lab: Lab,
  procedure: string,
  options: { user?: string; params?: string } = {},
): Promise<ProcedureRun> {
  const channel = fresh('C');
  const sent = await command(
    lab,
    `run ${procedure} chaos ${options.params ?? ''}`.trim(),
    options.user ?? 'U0ALICE',
    channel,
  );
  if (!acked(sent.answer))
    throw new Error(`/runbook run was not acknowledged: ${sent.answer.status} ${sent.answer.text}`);
  const id = await until(
    `the procedure run in ${channel} to be recorded`,
    async () => {
      const { rows } = await lab.stateDb.query<{ id: string }>(
        'SELECT id FROM procedure_runs WHERE channel_id = $1',
        [channel],
      );
      return rows[0]?.id;
    },
    15_000,
  );
  return { id, channel };
}

export interface StepRecord {
  stepId: string;
  kind: string;
  status: string;
  postedTs: string | null;
}

export async function steps(lab: Lab, runId: string): Promise<StepRecord[]> {
  const { rows } = await lab.stateDb.query<StepRecord>(
    `SELECT step_id AS "stepId", kind, status, posted_ts AS "postedTs"
       FROM procedure_steps WHERE run_id = $1 ORDER BY position`,
    [runId],
  );
  return rows;
}

/** Every step of the run is in its thread (and each post reached the stand-in). */
export async function waitForRunPosted(
  lab: Lab,
  run: ProcedureRun,
  timeoutMs: number,
): Promise<StepRecord[]> {
  return until(
    `every step of run ${run.id} to be posted`,
    async () => {
      const records = await steps(lab, run.id);
      if (records.length === 0 || records.some((record) => !record.postedTs)) return undefined;
      const posted = new Set(lab.slack.posts((post) => post.channel === run.channel).map((post) => post.ts));
      return records.every((record) => posted.has(record.postedTs!)) ? records : undefined;
    },
    timeoutMs,
  );
}

/** How many times each step of a run was posted (a step's post text is its number and title). */
export function stepPostsByText(lab: Lab, run: ProcedureRun): Map<string, number> {
  const counts = new Map<string, number>();
  for (const post of lab.slack.posts(
    (candidate) => candidate.channel === run.channel && !!candidate.threadTs,
  )) {
    const key = post.text ?? '';
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export interface RequestRecord {
  id: string;
  status: string;
  cardTs: string | null;
  cardChannel: string | null;
}

export async function requests(lab: Lab, runId: string): Promise<RequestRecord[]> {
  const { rows } = await lab.stateDb.query<RequestRecord>(
    `SELECT id, status, card_ts AS "cardTs", card_channel AS "cardChannel"
       FROM action_requests WHERE run_id = $1 ORDER BY created_at`,
    [runId],
  );
  return rows;
}

/** Preview pressed on the run's action step by `user`. */
export async function pressPreview(lab: Lab, run: ProcedureRun, user: string): Promise<Sent> {
  const records = await waitForRunPosted(lab, run, 30_000);
  const action = records.find((record) => record.kind === 'action');
  if (!action) throw new Error(`run ${run.id} has no action step`);
  return click(lab, {
    actionId: 'step_preview',
    value: JSON.stringify({ runId: run.id, stepId: action.stepId }),
    user,
    channel: run.channel,
    messageTs: action.postedTs!,
  });
}

/** The run's action request once its card is in the thread. */
export async function waitForCard(lab: Lab, run: ProcedureRun, timeoutMs: number): Promise<RequestRecord> {
  return until(
    `the approval card of run ${run.id}`,
    async () => {
      const [request] = await requests(lab, run.id);
      return request?.cardTs ? request : undefined;
    },
    timeoutMs,
  );
}

export function pressOnCard(
  lab: Lab,
  request: RequestRecord,
  actionId: 'request_approval' | 'approve_action' | 'reject_action',
  user: string,
): Promise<Sent> {
  return click(lab, {
    actionId,
    value: request.id,
    user,
    channel: request.cardChannel!,
    messageTs: request.cardTs!,
  });
}

/** Where an action request ends: nothing more will happen to it by itself. */
export const FINAL_STATUSES = [
  'succeeded',
  'nothing_done',
  'failed',
  'aborted',
  'changed',
  'outcome_unknown',
  'rejected',
  'expired',
  'lapsed',
];

/**
 * The request reached a final status and its card says so: the card's last update carries
 * the status the state database has.
 */
export async function waitForOutcome(lab: Lab, requestId: string, timeoutMs: number): Promise<RequestRecord> {
  return until(
    `request ${requestId} to finish and its card to say so`,
    async () => {
      const { rows } = await lab.stateDb.query<RequestRecord>(
        `SELECT id, status, card_ts AS "cardTs", card_channel AS "cardChannel" FROM action_requests WHERE id = $1`,
        [requestId],
      );
      const request = rows[0];
      if (!request || !FINAL_STATUSES.includes(request.status) || !request.cardTs) return undefined;
      const last = lab.slack.updates(request.cardTs).at(-1);
      return last?.text?.endsWith(`: ${request.status.replace('_', ' ')}`) ? request : undefined;
    },
    timeoutMs,
  );
}

/** Approval cards posted for a request (its id is in the card's button values). */
export function cardsPosted(lab: Lab, requestId: string): number {
  return lab.slack.posts((post) => post.raw.includes(requestId)).length;
}

/** The counter row a bump scenario owns, created at zero. */
export async function counterRow(lab: Lab): Promise<string> {
  const row = fresh('row');
  await lab.targetDb.query('INSERT INTO chaos_counter (id) VALUES ($1)', [row]);
  return row;
}

export async function counter(lab: Lab, row: string): Promise<number> {
  const { rows } = await lab.targetDb.query<{ n: number }>('SELECT n FROM chaos_counter WHERE id = $1', [
    row,
  ]);
  return rows[0]?.n ?? 0;
}

/** Requests of a run that were let through to execution by an approval. */
export async function approvedRequests(lab: Lab, runId: string): Promise<number> {
  const { rows } = await lab.stateDb.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM action_requests
      WHERE run_id = $1 AND status IN ('approved', 'executing', 'succeeded', 'nothing_done', 'failed', 'aborted', 'changed', 'outcome_unknown')
        AND approved_at IS NOT NULL`,
    [runId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * A session of the suite's holding a lock until released: the bot's statement that needs it
 * waits, which is "mid-check / mid-preview / mid-execution" for as long as the scenario wants.
 */
export async function holdLock(
  lab: Lab,
  sql: string,
  params: unknown[] = [],
): Promise<{ release(): Promise<void> }> {
  const client = await lab.targetDb.connect();
  // A stopped target ends this session too: that must not end the suite.
  client.on('error', () => undefined);
  await client.query('BEGIN');
  await client.query(sql, params);
  return {
    async release() {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    },
  };
}

/** A session of the bot's on the target waiting on a lock: the statement is in flight. */
export async function waitForBotWaiting(lab: Lab, timeoutMs: number): Promise<number> {
  return until(
    "the bot's statement on the target to be waiting on the suite's lock",
    async () => {
      const { rows } = await lab.targetDb.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'runbook-bot' AND wait_event_type = 'Lock'`,
      );
      return rows[0]?.pid;
    },
    timeoutMs,
    100,
  );
}
