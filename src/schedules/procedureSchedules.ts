import { ConfigError, UserError } from '../errors.js';
import { CATALOG, JOBS, jobIdOf, type ScheduledProcedureJob } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import { parameterProblems } from '../runbooks/procedureParams.js';
import type { RunbookLibrary } from '../runbooks/runbookLibrary.js';
import type { Target } from '../targets/target.js';
import { cronProblem, type HealthScheduleDefaults, timeZoneProblem } from './healthSchedules.js';

/**
 * Scheduled procedures: a procedure's checks run on a cron (or a daily `at` time) in the
 * team's time zone against one target, each fire a procedure run like `/runbook run`, posted
 * to a channel only when its results changed since the schedule's previous run (see
 * scheduledProcedureDecision.ts). Declared per target in the targets file:
 *
 *   procedure_schedules:
 *     - procedure: database-operations-runbook#morning-checklist-9-am
 *       at: "09:00"          # or cron: "0 9 * * 1-5"
 *       tz: Europe/London    # else the target's schedule.tz, else HEALTH_SCHEDULE_TZ
 *       channel: C0DBOPS     # else the target's schedule.channel, else HEALTH_SCHEDULE_CHANNEL
 */

/** Scheduler ids start with this; other schedulers on the queue are left alone. */
export const PROCEDURE_SCHEDULER_PREFIX = 'scheduled-procedure-';

export interface ProcedureSchedule {
  /** The scheduler id: also names the schedule's stored results. */
  id: string;
  target: string;
  procedure: string;
  cron: string;
  tz: string;
  channel: string;
}

/** `09:00` → `0 9 * * *`. */
function dailyCron(at: string): string {
  const [hour, minute] = at.split(':').map(Number);
  return `${minute} ${hour} * * *`;
}

/** `scheduled-procedure-prod-runbook#proc-0_9_*_*_*-C0DBOPS`: one per target, procedure, time and channel. */
function scheduleId(target: string, procedure: string, cron: string, channel: string): string {
  return `${PROCEDURE_SCHEDULER_PREFIX}${target}-${procedure}-${cron.replace(/\s+/g, '_')}-${channel}`;
}

/**
 * Every target's procedure schedules, resolved against the loaded runbooks. Throws one
 * ConfigError naming every problem with the target, the entry and what to write instead:
 * an unknown procedure (with the closest ids), one that needs parameters or has no checks,
 * a bad cron or zone, no channel to post to, the same schedule twice.
 */
export function resolveProcedureSchedules(
  targets: readonly Target[],
  defaults: HealthScheduleDefaults,
  library: Pick<RunbookLibrary, 'resolveProcedure'>,
): ProcedureSchedule[] {
  const problems: string[] = [];
  const schedules: ProcedureSchedule[] = [];
  for (const target of targets) {
    for (const [index, entry] of (target.procedureSchedules ?? []).entries()) {
      const where = `target "${target.name}" (${target.source}) procedure_schedules[${index}]`;
      const problem = (key: string, text: string) => problems.push(`  - ${where}.${key}: ${text}`);
      let procedureId: string | undefined;
      try {
        const ref = library.resolveProcedure(entry.procedure);
        procedureId = ref.procedure.id;
        const params = parameterProblems(ref.procedure, {});
        if (params.length > 0)
          problem(
            'procedure',
            `${procedureId} cannot run on a schedule: ${params.join('; ')} (a schedule runs without parameters)`,
          );
        if (!ref.procedure.steps.some((step) => step.kind === 'check'))
          problem('procedure', `${procedureId} has no checks to run (its steps are actions or manual)`);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        problem('procedure', err.message);
      }
      const cron = (entry.cron ?? (entry.at ? dailyCron(entry.at) : '')).trim();
      const cronIssue = cronProblem(cron);
      if (cronIssue) problem(entry.cron ? 'cron' : 'at', `"${entry.cron ?? entry.at}" ${cronIssue}`);
      const tz = entry.tz ?? target.schedule?.tz ?? defaults.tz;
      const tzIssue = timeZoneProblem(tz);
      if (tzIssue) problem('tz', `"${tz}" ${tzIssue}`);
      const channel = entry.channel ?? target.schedule?.channel ?? defaults.channel;
      if (!channel)
        problem(
          'channel',
          'no channel to post to: set channel here, schedule.channel on the target, or HEALTH_SCHEDULE_CHANNEL',
        );
      if (!procedureId || !channel || cronIssue || tzIssue || entry.enabled === false) continue;
      const id = scheduleId(target.name, procedureId, cron, channel);
      if (schedules.some((known) => known.id === id)) {
        problem(
          'procedure',
          `${procedureId} is already scheduled at "${cron}" to ${channel} for this target`,
        );
        continue;
      }
      schedules.push({ id, target: target.name, procedure: procedureId, cron, tz, channel });
    }
  }
  if (problems.length > 0) throw new ConfigError(`Invalid procedure schedule:\n${problems.join('\n')}`);
  return schedules;
}

/** The job a schedule's scheduler queues on each fire. */
export function scheduledProcedureJob(schedule: ProcedureSchedule): ScheduledProcedureJob {
  return {
    schedule: schedule.id,
    procedure: schedule.procedure,
    target: schedule.target,
    channel: schedule.channel,
  };
}

/**
 * Makes the diagnostics queue's procedure schedulers match the configuration (upserted only
 * when they differ, so a reboot does not move the next fire), removing those no longer
 * configured. Safe at every boot, from every replica. Returns the ids that now exist.
 */
export async function applyProcedureSchedules(
  queues: QueueBackend,
  wanted: readonly ProcedureSchedule[],
): Promise<string[]> {
  const existing = new Map(
    (await queues.schedulers(JOBS.scheduledProcedure))
      .filter((scheduler) => scheduler.id.startsWith(PROCEDURE_SCHEDULER_PREFIX))
      .map((scheduler) => [scheduler.id, scheduler]),
  );
  for (const schedule of wanted) {
    const data = scheduledProcedureJob(schedule);
    const current = existing.get(schedule.id);
    const stored = CATALOG[JOBS.scheduledProcedure].schema.safeParse(current?.data);
    const same =
      current !== undefined &&
      current.name === JOBS.scheduledProcedure &&
      current.pattern === schedule.cron &&
      (current.tz ?? 'UTC') === schedule.tz &&
      stored.success &&
      JSON.stringify(stored.data) === JSON.stringify(data);
    if (same) continue;
    const item = { name: JOBS.scheduledProcedure, data };
    if (jobIdOf(item) !== schedule.id) throw new Error(`scheduler id mismatch for ${schedule.id}`);
    await queues.schedule(item, { pattern: schedule.cron, tz: schedule.tz });
  }
  const keep = new Set(wanted.map((schedule) => schedule.id));
  for (const id of existing.keys()) {
    if (!keep.has(id)) await queues.unschedule(JOBS.scheduledProcedure, id);
  }
  return wanted.map((schedule) => schedule.id);
}
