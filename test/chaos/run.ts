/**
 * `npm run chaos [-- --short] [-- --only <text>]`: the chaos suite (issue 14, section 7).
 * Starts real processes (bot and worker apart, and `all`), Redis and two Postgres servers
 * (state and target), injects each fault of scenarios.ts, and prints one table. Exits 1 on
 * any loss, duplicate, crash, unanswered request, wrong execution count or unapproved
 * change; every process it started is killed at the end, whatever happened.
 *
 * CHAOS_SHORT=1 is --short (fewer commands and clicks, for CI); CHAOS_LOG_DIR keeps the
 * processes' logs there instead of in a temporary directory.
 */
import { leftovers, redisAvailable, stopEverything } from './harness.js';
import { type Lab, startLab, stopTopology } from './lab.js';
import { prepare, type Row, SCENARIOS, type Scenario } from './scenarios.js';

const args = process.argv.slice(2);
const short = args.includes('--short') || process.env.CHAOS_SHORT === '1';
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;

/** Why a row fails; empty when it passes. */
export function failures(row: Row): string[] {
  const why: string[] = [];
  if (!row.injected) why.push('fault not injected');
  if (row.exits > 0) why.push('process exit');
  if (row.answered[0] < row.answered[1]) why.push('unanswered');
  if (row.lost > 0) why.push('lost');
  if (row.duplicated > 0) why.push('duplicated');
  if (row.unapproved > 0) why.push('unapproved change');
  if (row.outcome) why.push(`${row.outcome.status.replace('_', ' ')}, want ${row.outcome.want}`);
  const runs = row.executions;
  if (runs) {
    const ok =
      runs.want === 'exactly 1'
        ? runs.count === 1
        : runs.want === 'none'
          ? runs.count === 0
          : runs.count <= 1;
    if (!ok) why.push('executions');
  }
  return why;
}

async function runScenario(lab: Lab, scenario: Scenario): Promise<Row> {
  const row: Row = {
    fault: scenario.fault,
    injected: false,
    exits: 0,
    answered: [0, 0],
    lost: 0,
    late: 0,
    duplicated: 0,
    unapproved: 0,
    notes: [],
  };
  const started = Date.now();
  try {
    await prepare(lab, scenario);
  } catch (err) {
    row.notes.push(`could not start the processes: ${String(err).slice(0, 200)}`);
    return row;
  }
  const procs = lab.topology!.procs;
  const exitsBefore = procs.map((proc) => proc.unexpectedExits.length);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      scenario.run(lab, row),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`scenario did not finish within ${scenario.timeoutMs / 1000} s`)),
          scenario.timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    row.notes.push(`error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300));
    // Whatever state it left, the next scenario starts with fresh processes and a live target.
    row.lost = Math.max(row.lost, 1);
  } finally {
    clearTimeout(timer);
  }
  // A wedged or crashed process, or a scenario cut short, leaves state behind; an
  // unapproved change or a duplicate alone does not.
  const leftBehind = (): boolean =>
    row.exits > 0 ||
    row.lost > 0 ||
    row.answered[0] < row.answered[1] ||
    row.notes.some((note) => note.startsWith('error:')) ||
    procs.some((proc) => !proc.running());
  procs.forEach((proc, i) => {
    const exits = proc.unexpectedExits.slice(exitsBefore[i]);
    row.exits += exits.length;
    for (const exit of exits)
      row.notes.push(
        `${exit.process} exited (${exit.signal ?? `code ${exit.code}`}): ${lastError(exit.tail)}`.slice(
          0,
          300,
        ),
      );
  });
  row.notes.push(`${((Date.now() - started) / 1000).toFixed(0)} s`);
  // A failed row may leave a wedged process or a stopped target behind: the next scenario
  // starts from fresh processes, so each row shows its own fault only.
  if (leftBehind()) {
    await stopTopology(lab).catch(() => undefined);
    if (!lab.target.running()) await lab.target.start().catch(() => undefined);
  }
  return row;
}

/** The line of a process's last output that says why it ended. */
function lastError(tail: string): string {
  const lines = tail.split('\n').filter(Boolean);
  const telling =
    lines.filter((line) => /error|Error|ECONNRESET|fatal/.test(line)).at(-1) ?? lines.at(-1) ?? '';
  try {
    const parsed = JSON.parse(telling) as { msg?: string; err?: { message?: string } };
    return [parsed.msg, parsed.err?.message].filter(Boolean).join(': ');
  } catch {
    return telling.trim();
  }
}

const HEADERS = [
  'fault',
  'injected',
  'process exits',
  'commands answered',
  'reports lost',
  'reports duplicated',
  'executions',
  'unapproved changes',
  'result',
];

function cells(row: Row): string[] {
  const why = failures(row);
  return [
    row.fault,
    row.injected ? 'yes' : 'no',
    String(row.exits),
    `${row.answered[0]}/${row.answered[1]}`,
    row.late > 0 ? `${row.lost} (${row.late} late)` : String(row.lost),
    String(row.duplicated),
    row.executions ? `${row.executions.count} (want ${row.executions.want})` : '–',
    String(row.unapproved),
    why.length === 0 ? 'pass' : `FAIL: ${why.join(', ')}`,
  ];
}

/** A Markdown table: readable in a terminal and pasted as it is into docs/contributing.md. */
function table(rows: Row[]): string {
  const lines = [HEADERS, HEADERS.map(() => '---'), ...rows.map(cells)];
  return lines.map((line) => `| ${line.join(' | ')} |`).join('\n');
}

async function main(): Promise<number> {
  if (!redisAvailable()) {
    process.stderr.write('chaos: redis-server is not installed (apt-get install redis-server)\n');
    return 2;
  }
  const scenarios = SCENARIOS.filter(
    (scenario) => (!only || scenario.fault.includes(only)) && !(short && scenario.fullOnly),
  );
  process.stdout.write(`chaos: ${scenarios.length} scenarios${short ? ' (short)' : ''}\n`);
  const lab = await startLab(short);
  process.stdout.write(`chaos: logs of the bot's processes in ${lab.logDir}\n`);
  const rows: Row[] = [];
  try {
    for (const scenario of scenarios) {
      process.stdout.write(`chaos: ${scenario.fault} …\n`);
      const row = await runScenario(lab, scenario);
      rows.push(row);
      const why = failures(row);
      process.stdout.write(
        `  ${why.length === 0 ? 'pass' : `FAIL (${why.join(', ')})`}: ${row.notes.join(' · ')}\n`,
      );
    }
  } finally {
    await stopTopology(lab).catch(() => undefined);
    await lab.stateDb.end().catch(() => undefined);
    await lab.targetDb.end().catch(() => undefined);
    await lab.slack.close().catch(() => undefined);
  }
  process.stdout.write(`\n${table(rows)}\n\n`);
  const failed = rows.filter((row) => failures(row).length > 0);
  process.stdout.write(
    failed.length === 0
      ? 'chaos: every row passes\n'
      : `chaos: ${failed.length} of ${rows.length} rows fail\n`,
  );
  return failed.length === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  code = 1;
} finally {
  await stopEverything();
  const left = await leftovers();
  if (left.length > 0) {
    process.stderr.write(`chaos: processes still running after the end: ${left.join(', ')}\n`);
    code = 1;
  } else process.stdout.write('chaos: no process of the run is left\n');
}
process.exit(code);
