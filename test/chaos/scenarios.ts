/**
 * The faults of issue 14, one small function each. A scenario injects its fault into the
 * running lab and fills in its row: what was answered, what reached Slack once, twice or
 * never, how often the action ran, and whether anything changed without an approval.
 * Process exits are counted by the runner (run.ts) around each scenario.
 */
import pg from 'pg';
import { type Answer, acked, postToBot, sleep, until } from './harness.js';
import {
  approvedRequests,
  cardsPosted,
  command,
  counter,
  counterRow,
  fresh,
  holdLock,
  type Lab,
  type ProcedureRun,
  pressOnCard,
  pressPreview,
  type RequestRecord,
  requests,
  runProcedure,
  type Sent,
  stepPostsByText,
  type TopologyKind,
  useTopology,
  waitForBotWaiting,
  waitForCard,
  waitForOutcome,
  waitForRunPosted,
} from './lab.js';

export interface Row {
  fault: string;
  injected: boolean;
  /** Exits nobody asked for, and processes that did not stop within 30 s of SIGTERM. */
  exits: number;
  answered: [number, number];
  lost: number;
  /** Health reports posted, but more than REPORT_WAIT_MS after the command: not a failure. */
  late: number;
  duplicated: number;
  executions?: { count: number; want: 'exactly 1' | 'none' | 'at most 1' };
  unapproved: number;
  /** A final status other than the one the scenario knows is right. */
  outcome?: { status: string; want: string };
  notes: string[];
}

export interface Scenario {
  fault: string;
  topology: TopologyKind;
  /** Upper bound of the scenario; past it the row fails and the lab's processes are restarted. */
  timeoutMs: number;
  /** Left out of the short run: what it adds is covered by another row there. */
  fullOnly?: boolean;
  run(lab: Lab, row: Row): Promise<void>;
}

const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';

/** How long a report, a card or an outcome may take after the fault before it is late. */
const REPORT_WAIT_MS = 60_000;
/** How much longer a late health report is waited for before it counts as lost (full, short run). */
const LATE_REPORT_WAIT_MS = 420_000;
const LATE_REPORT_WAIT_SHORT_MS = 90_000;

/** The preview's answer in the run's channel after `clicked` (its card, or its failure); lost if none came. */
async function previewAnswer(lab: Lab, row: Row, run: { channel: string }, clicked: number) {
  const answer = await until(
    'the preview (its card or its failure) in the thread',
    async () => lab.slack.posts((post) => post.channel === run.channel && post.at > clicked)[0],
    REPORT_WAIT_MS,
    500,
  ).catch(() => undefined);
  if (!answer) row.lost += 1;
  return answer;
}

function answeredInto(row: Row, sent: Sent[] | Answer[]): void {
  const answers = sent.map((item) => ('answer' in item ? item.answer : item));
  row.answered[0] += answers.filter(acked).length;
  row.answered[1] += answers.length;
  const slow = answers.filter((answer) => !acked(answer));
  if (slow.length > 0)
    row.notes.push(
      `${slow.length} not acknowledged in 3 s (${[...new Set(slow.map((a) => a.status || a.text.slice(0, 60)))].join(', ')})`,
    );
}

// ---------------------------------------------------------------- health reports

/** A `/runbook health` in a channel of its own; a report is expected when the answer says it is running. */
async function health(lab: Lab): Promise<{ channel: string; sent: Sent }> {
  const channel = fresh('C');
  return { channel, sent: await command(lab, 'health chaos', ALICE, channel) };
}

const expectsReport = (sent: Sent) => acked(sent.answer) && /Running health check/i.test(sent.answer.text);

/** Counts, for each command that was told its check is running, its report: none (lost) or several (duplicated). */
async function countReports(
  lab: Lab,
  row: Row,
  commands: Array<{ channel: string; sent: Sent }>,
): Promise<void> {
  const expected = commands.filter((item) => expectsReport(item.sent));
  const topLevel = (channel: string) =>
    lab.slack.posts(
      // A report, or the message a run that could not produce one is posted with.
      (post) => post.channel === channel && !post.threadTs && /^Health (check )?of /.test(post.text ?? ''),
    );
  const missing = () => expected.filter((item) => topLevel(item.channel).length === 0);
  await until('every health report', async () => missing().length === 0, REPORT_WAIT_MS, 500).catch(
    () => undefined,
  );
  // Late is not lost: a report held by a lapsed post lease (2 min) or found by the recovery
  // sweep (5 min after anything last happened to its run) still arrives. Waited for that
  // long in the full run; the short run gives up sooner and says so.
  const late = missing().length;
  if (late > 0) {
    const patience = lab.short ? LATE_REPORT_WAIT_SHORT_MS : LATE_REPORT_WAIT_MS;
    await until('the late health reports', async () => missing().length === 0, patience, 1000).catch(
      () => undefined,
    );
    const lost = missing().length;
    row.late += late - lost;
    if (lost > 0) row.notes.push(`${lost} reports not posted within ${(REPORT_WAIT_MS + patience) / 1000} s`);
  }
  // Anything posted twice shows up a few seconds later at most (lease retries).
  await sleep(3000);
  for (const item of expected) {
    const count = topLevel(item.channel).length;
    if (count === 0) row.lost += 1;
    if (count > 1) row.duplicated += count - 1;
  }
  const told = commands.filter((item) => acked(item.sent.answer) && !expectsReport(item.sent)).length;
  if (told > 0) row.notes.push(`${told} told nothing was started`);
}

async function burst(lab: Lab, size: number, during: (i: number) => Promise<void>) {
  const commands: Array<Promise<{ channel: string; sent: Sent }>> = [];
  for (let i = 0; i < size; i++) {
    commands.push(health(lab));
    await during(i);
    await sleep(100);
  }
  return Promise.all(commands);
}

const redisKilledDuringBurst: Scenario = {
  fault: 'Redis killed during a /runbook health burst, restarted',
  topology: 'bot+worker',
  timeoutMs: 600_000,
  async run(lab, row) {
    const size = lab.short ? 10 : 20;
    let restarting: Promise<void> | undefined;
    const commands = await burst(lab, size, async (i) => {
      if (i === Math.floor(size / 4)) {
        await lab.redis.kill();
        row.injected = true;
      }
      if (i === Math.floor(size / 2)) restarting = lab.redis.start();
    });
    await restarting;
    answeredInto(
      row,
      commands.map((item) => item.sent),
    );
    await countReports(lab, row, commands);
  },
};

const stateSessionsTerminated: Scenario = {
  fault: 'every state-database session terminated (during a health burst)',
  topology: 'bot+worker',
  timeoutMs: 600_000,
  async run(lab, row) {
    const size = lab.short ? 10 : 20;
    // Every 400 ms from the first third of the burst until reports have been posting for 4 s:
    // sooner or later one lands between a report's post and the record of that post.
    let terminating = true;
    const terminator = (async () => {
      while (terminating) {
        const ended = await lab.state.terminateSessions().catch(() => 0);
        if (ended > 0) row.injected = true;
        await sleep(400);
      }
    })();
    let commands: Array<{ channel: string; sent: Sent }> = [];
    try {
      commands = await burst(lab, size, async () => undefined);
      await sleep(4000);
    } finally {
      terminating = false;
      await terminator;
    }
    answeredInto(
      row,
      commands.map((item) => item.sent),
    );
    await countReports(lab, row, commands);
  },
};

// ---------------------------------------------------------------- actions

interface Approved {
  run: ProcedureRun;
  request: RequestRecord;
  row: string;
}

/** Alice runs the bump procedure, previews and asks for approval; the request waits for an approver. */
async function pendingBump(lab: Lab, row: Row): Promise<Approved> {
  const counterId = await counterRow(lab);
  const run = await runProcedure(lab, 'chaos#bump-counter', { user: ALICE, params: `row=${counterId}` });
  const preview = await pressPreview(lab, run, ALICE);
  answeredInto(row, [preview]);
  const request = await waitForCard(lab, run, 30_000);
  const asked = await pressOnCard(lab, request, 'request_approval', ALICE);
  answeredInto(row, [asked]);
  await until(
    'the request to wait for approval',
    async () => (await requests(lab, run.id))[0]?.status === 'pending',
    15_000,
  );
  return { run, request, row: counterId };
}

/** What the bump did: executions of the counter, and any change no approval let through. */
async function countExecutions(
  lab: Lab,
  row: Row,
  bump: Approved,
  want: 'exactly 1' | 'none' | 'at most 1',
): Promise<void> {
  const count = await counter(lab, bump.row);
  row.executions = { count, want };
  const approved = await approvedRequests(lab, bump.run.id);
  row.unapproved += Math.max(0, count - approved);
}

/** The request's final status is reached and shown on its card, once (and is `want`, when given). */
async function countOutcome(lab: Lab, row: Row, bump: Approved, want?: string): Promise<void> {
  try {
    const final = await waitForOutcome(lab, bump.request.id, REPORT_WAIT_MS);
    row.notes.push(`request ${final.status.replace('_', ' ')}`);
    if (want && final.status !== want) row.outcome = { status: final.status, want };
  } catch {
    row.lost += 1;
    const [request] = await requests(lab, bump.run.id);
    row.notes.push(`no final outcome on the card (request ${request?.status ?? 'missing'})`);
  }
  const cards = cardsPosted(lab, bump.request.id);
  if (cards > 1) row.duplicated += cards - 1;
}

/**
 * A bump approved by Bob whose execution has started and waits on a lock the suite holds on
 * its row while `inject` runs; the lock is let go afterwards, whatever happened.
 */
async function executionHeldDuring(lab: Lab, row: Row, inject: () => Promise<boolean>): Promise<Approved> {
  const bump = await pendingBump(lab, row);
  const lock = await holdLock(lab, 'SELECT 1 FROM chaos_counter WHERE id = $1 FOR UPDATE', [bump.row]);
  try {
    answeredInto(row, [await pressOnCard(lab, bump.request, 'approve_action', BOB)]);
    await until(
      'the execution to start',
      async () => (await requests(lab, bump.run.id))[0]?.status === 'executing',
      30_000,
    );
    await waitForBotWaiting(lab, 30_000);
    row.injected = await inject();
  } finally {
    await lock.release();
  }
  return bump;
}

const workerKilledMidExecution: Scenario = {
  fault: 'worker SIGKILL mid-execution of an approved action',
  topology: 'bot+worker',
  timeoutMs: 150_000,
  async run(lab, row) {
    const bump = await executionHeldDuring(lab, row, async () => {
      await lab.topology!.worker.crash();
      return true;
    });
    // The supervisor's restart: the job is the new worker's once its lock lapses.
    await lab.topology!.worker.start();
    await countOutcome(lab, row, bump);
    await countExecutions(lab, row, bump, 'at most 1');
  },
};

type TargetFault = 'terminated' | 'stopped';

async function injectTargetFault(lab: Lab, how: TargetFault): Promise<boolean> {
  if (how === 'terminated') return (await lab.target.terminateSessions('runbook-bot')) > 0;
  await lab.target.stopImmediate();
  return true;
}

/** The target back after a stop (as a failover ends), before anything is counted. */
async function targetBack(lab: Lab, how: TargetFault): Promise<void> {
  if (how === 'stopped' && !lab.target.running()) await lab.target.start();
}

function targetMidCheck(how: TargetFault): Scenario {
  return {
    fault: `target ${how === 'stopped' ? 'stopped (immediate)' : 'sessions terminated'} mid-check`,
    topology: 'bot+worker',
    timeoutMs: 120_000,
    async run(lab, row) {
      const lock = await holdLock(lab, 'LOCK TABLE chaos_slow IN ACCESS EXCLUSIVE MODE');
      let run: ProcedureRun;
      try {
        run = await runProcedure(lab, 'chaos#slow-check', { user: ALICE });
        row.answered = [1, 1];
        await waitForBotWaiting(lab, 30_000);
        row.injected = await injectTargetFault(lab, how);
      } finally {
        await lock.release();
        await targetBack(lab, how);
      }
      await countStepPosts(lab, row, run);
    },
  };
}

/** Every step of the run posted (whatever its result), each once. */
async function countStepPosts(lab: Lab, row: Row, run: ProcedureRun): Promise<void> {
  try {
    const records = await waitForRunPosted(lab, run, REPORT_WAIT_MS);
    row.notes.push(`steps: ${records.map((record) => `${record.kind} ${record.status}`).join(', ')}`);
  } catch {
    row.lost += 1;
    row.notes.push('the run was not posted in full');
  }
  for (const count of stepPostsByText(lab, run).values()) if (count > 1) row.duplicated += count - 1;
}

function targetMidPreview(how: TargetFault): Scenario {
  return {
    fault: `target ${how === 'stopped' ? 'stopped (immediate)' : 'sessions terminated'} mid-preview`,
    topology: 'bot+worker',
    timeoutMs: 120_000,
    async run(lab, row) {
      const counterId = await counterRow(lab);
      const run = await runProcedure(lab, 'chaos#bump-counter', { user: ALICE, params: `row=${counterId}` });
      row.answered = [1, 1];
      await waitForRunPosted(lab, run, 30_000);
      const lock = await holdLock(lab, 'SELECT 1 FROM chaos_counter WHERE id = $1 FOR UPDATE', [counterId]);
      const clicked = Date.now();
      try {
        answeredInto(row, [await pressPreview(lab, run, ALICE)]);
        await waitForBotWaiting(lab, 30_000);
        row.injected = await injectTargetFault(lab, how);
      } finally {
        await lock.release();
        await targetBack(lab, how);
      }
      // The preview's answer: its card, or what went wrong, in the run's thread.
      const answer = await previewAnswer(lab, row, run, clicked);
      if (answer) row.notes.push(`preview answered: ${(answer.text ?? '').slice(0, 60)}`);
      for (const request of await requests(lab, run.id)) {
        const cards = cardsPosted(lab, request.id);
        if (cards > 1) row.duplicated += cards - 1;
      }
      const count = await counter(lab, counterId);
      row.executions = { count, want: 'none' };
      row.unapproved += count;
    },
  };
}

function targetMidExecution(how: TargetFault): Scenario {
  return {
    fault: `target ${how === 'stopped' ? 'stopped (immediate)' : 'sessions terminated'} mid-execution`,
    topology: 'bot+worker',
    timeoutMs: 150_000,
    async run(lab, row) {
      let bump: Approved;
      try {
        bump = await executionHeldDuring(lab, row, () => injectTargetFault(lab, how));
      } finally {
        await targetBack(lab, how);
      }
      // The statement was cut before COMMIT, so it rolled back: `failed`, not `outcome unknown`
      // (that is for a COMMIT whose result the bot could not learn).
      await countOutcome(lab, row, bump, 'failed');
      // Nothing may have changed, and nothing may have run it again.
      await countExecutions(lab, row, bump, 'none');
    },
  };
}

// ---------------------------------------------------------------- click storm

function approvalStorm(topology: TopologyKind): Scenario {
  return {
    fault: `approval storm, two approvers (${topology})`,
    topology,
    timeoutMs: 720_000,
    async run(lab, row) {
      const clicks = lab.short ? 40 : 100;
      const bump = await pendingBump(lab, row);
      row.answered = [0, 0];
      const stormStarted = Date.now();
      const storm = Array.from({ length: clicks }, (_, i) =>
        pressOnCard(lab, bump.request, 'approve_action', i % 2 === 0 ? BOB : CAROL),
      );
      row.injected = true;
      // The bot keeps serving other people meanwhile.
      const checks: Array<{ channel: string; sent: Sent }> = [];
      for (let i = 0; i < 3; i++) {
        await sleep(150);
        checks.push(await health(lab));
      }
      const sent = await Promise.all(storm);
      answeredInto(row, sent);
      answeredInto(
        row,
        checks.map((item) => item.sent),
      );
      // A click is answered by its ephemeral reply; an approval that counted may have none.
      await until(
        'a reply to every refused click',
        async () => sent.filter((item) => !lab.slack.responses.has(item.responseId)).length <= 2,
        20_000,
        500,
      ).catch(() => undefined);
      const { rows } = await lab.stateDb.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM approvals WHERE request_id = $1',
        [bump.request.id],
      );
      const silent = sent.filter(
        (item) => acked(item.answer) && !lab.slack.responses.has(item.responseId),
      ).length;
      const unanswered = Math.max(0, silent - (rows[0]?.n ?? 0));
      if (unanswered > 0) {
        row.answered[0] -= unanswered;
        row.notes.push(`${unanswered} clicks acknowledged but never answered`);
      }
      row.notes.push(`storm acked in ${((Date.now() - stormStarted) / 1000).toFixed(1)} s`);
      await countOutcome(lab, row, bump);
      await countExecutions(lab, row, bump, 'exactly 1');
      await countReports(lab, row, checks);
    },
  };
}

// ---------------------------------------------------------------- SIGTERM

function sigtermUnderLoad(mode: 'all' | 'bot' | 'worker'): Scenario {
  return {
    fault: `SIGTERM under load (${mode}): exit within 30 s`,
    topology: mode === 'all' ? 'all' : 'bot+worker',
    timeoutMs: 720_000,
    async run(lab, row) {
      const size = lab.short ? 8 : 20;
      // In flight: an approved execution waiting on a lock (longer than 30 s) and a burst of checks.
      const bump = await pendingBump(lab, row);
      const lock = await holdLock(lab, 'SELECT 1 FROM chaos_counter WHERE id = $1 FOR UPDATE', [bump.row]);
      const topology = lab.topology!;
      const victim = mode === 'bot' ? topology.bot : topology.worker;
      let commands: Array<{ channel: string; sent: Sent }> = [];
      try {
        answeredInto(row, [await pressOnCard(lab, bump.request, 'approve_action', BOB)]);
        await waitForBotWaiting(lab, 30_000);
        commands = await Promise.all(Array.from({ length: size }, () => health(lab)));
        answeredInto(
          row,
          commands.map((item) => item.sent),
        );
        row.injected = true;
        const stopped = await victim.stop('SIGTERM', 30_000);
        if (stopped.ms === undefined) {
          row.exits += 1;
          row.notes.push(`${victim.name} still running 30 s after SIGTERM: killed`);
        } else
          row.notes.push(
            `${victim.name} exited in ${(stopped.ms / 1000).toFixed(1)} s (${stopped.signal ?? `code ${stopped.code}`})`,
          );
      } finally {
        await lock.release();
      }
      // Started again, as a deploy would: what was in flight is finished or reported.
      await victim.start();
      await countReports(lab, row, commands);
      await countOutcome(lab, row, bump);
      await countExecutions(lab, row, bump, 'at most 1');
    },
  };
}

// ---------------------------------------------------------------- hostile bodies

function hostileBodies(topology: TopologyKind): Scenario {
  return {
    fault: `hostile signed bodies, want 400 (${topology})`,
    topology,
    // The same HTTP receiver in both modes: the short run sends them to the bot only.
    fullOnly: topology === 'all',
    timeoutMs: 600_000,
    async run(lab, row) {
      const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
      const bodies: Array<[string, string]> = [
        ['payload={}', form({ payload: '{}' })],
        ['payload=[1,2,3]', form({ payload: '[1,2,3]' })],
        [
          'block_actions without user',
          form({
            payload: JSON.stringify({ type: 'block_actions', actions: [{ action_id: 'approve_action' }] }),
          }),
        ],
        [
          'block_actions without actions',
          form({ payload: JSON.stringify({ type: 'block_actions', user: { id: BOB } }) }),
        ],
        ['empty body', ''],
        ['neither command nor payload', form({ text: 'health', user_id: ALICE })],
        // Last: on today's code it takes the process down.
        ['payload=null', form({ payload: 'null' })],
      ];
      const port = lab.topology!.bot.port;
      const wrong: string[] = [];
      for (const [name, body] of bodies) {
        row.injected = true;
        const answer = await postToBot(port, body);
        row.answered[1] += 1;
        if (answer.status === 400 && answer.ms < 3000) row.answered[0] += 1;
        else wrong.push(`${name} → ${answer.status || 'no answer'}`);
        await sleep(300);
        if (!lab.topology!.bot.running()) {
          wrong.push(`${name} took the process down`);
          // The supervisor starts it again; the check below needs it listening.
          await until('the process back', async () => lab.topology!.bot.running(), 20_000).catch(
            () => undefined,
          );
          await lab.topology!.bot.ready.catch(() => undefined);
        }
      }
      if (wrong.length > 0) row.notes.push(wrong.join('; '));
      // Still serving.
      const check = await health(lab);
      answeredInto(row, [check.sent]);
      await countReports(lab, row, [check]);
    },
  };
}

// ---------------------------------------------------------------- effects through objects

const viewThatTerminates: Scenario = {
  fault: 'check through a view calling pg_terminate_backend',
  topology: 'bot+worker',
  timeoutMs: 90_000,
  async run(lab, row) {
    const victim = new pg.Client({ connectionString: lab.target.url(), application_name: 'chaos-victim' });
    victim.on('error', () => undefined);
    await victim.connect();
    try {
      const run = await runProcedure(lab, 'chaos#session-view', { user: ALICE });
      row.answered = [1, 1];
      row.injected = true;
      await countStepPosts(lab, row, run);
      const alive = await victim.query('SELECT 1').then(
        () => true,
        () => false,
      );
      if (!alive) {
        row.unapproved += 1;
        row.notes.push('the check terminated a session');
      }
    } finally {
      await victim.end().catch(() => undefined);
    }
  },
};

const triggerInPreview: Scenario = {
  fault: 'DML preview through a trigger calling nextval',
  topology: 'bot+worker',
  timeoutMs: 90_000,
  async run(lab, row) {
    const sequence = async () =>
      (
        await lab.targetDb.query<{ last: string; called: boolean }>(
          'SELECT last_value::text AS last, is_called AS called FROM chaos_seq',
        )
      ).rows[0];
    const before = await sequence();
    const run = await runProcedure(lab, 'chaos#stamp-rows', { user: ALICE });
    row.answered = [1, 1];
    await waitForRunPosted(lab, run, 30_000);
    const clicked = Date.now();
    answeredInto(row, [await pressPreview(lab, run, ALICE)]);
    row.injected = true;
    await previewAnswer(lab, row, run, clicked);
    const after = await sequence();
    if (before?.last !== after?.last || before?.called !== after?.called) {
      row.unapproved += 1;
      row.notes.push(`the preview advanced chaos_seq (${before?.last} → ${after?.last})`);
    }
    const { rows } = await lab.targetDb.query<{ touched: number }>(
      'SELECT touched FROM chaos_stamped WHERE id = 1',
    );
    if ((rows[0]?.touched ?? 0) !== 0) row.unapproved += 1;
  },
};

/** In the order they run: grouped by topology, so the processes are restarted once between the two. */
export const SCENARIOS: Scenario[] = [
  hostileBodies('bot+worker'),
  viewThatTerminates,
  triggerInPreview,
  redisKilledDuringBurst,
  stateSessionsTerminated,
  workerKilledMidExecution,
  targetMidCheck('terminated'),
  targetMidCheck('stopped'),
  targetMidPreview('terminated'),
  targetMidPreview('stopped'),
  targetMidExecution('terminated'),
  targetMidExecution('stopped'),
  approvalStorm('bot+worker'),
  sigtermUnderLoad('bot'),
  sigtermUnderLoad('worker'),
  hostileBodies('all'),
  approvalStorm('all'),
  sigtermUnderLoad('all'),
];

export async function prepare(lab: Lab, scenario: Scenario): Promise<void> {
  await useTopology(lab, scenario.topology);
}
