import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { ConfigError } from '../errors.js';
import { CATALOG, JOBS, jobIdOf, type ScheduledHealthJob } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Target } from '../targets/target.js';
import { plural } from '../text.js';
import { isTimeZone } from '../timeInput.js';

/**
 * Scheduled health checks: BullMQ job schedulers on the diagnostics queue firing
 * `scheduled-health` jobs (see scheduledHealthJob.ts) on a cron in a time zone; one per
 * target, or one for the targets sharing a channel, cron and zone (see healthSchedulers).
 */

/**
 * Scheduler ids are this prefix and the target name, or the channel and a hash of a group's
 * cron and zone (see the catalog); others on the queue are left alone.
 */
export const SCHEDULER_PREFIX = 'scheduled-health-';

/** The seeds' morning checklist ("Run this every morning"; `0 9 * * *` in their crontab). */
const DEFAULT_HEALTH_SCHEDULE = '0 9 * * *';
const DEFAULT_HEALTH_SCHEDULE_TZ = 'UTC';

const CHANNEL_ID = /^[A-Z0-9]{3,}$/;

export interface HealthScheduleDefaults {
  cron: string;
  tz: string;
  /** Where reports go when a target names no channel; no channel → no schedule. */
  channel?: string;
}

/** One target's effective schedule. */
export interface HealthSchedule {
  id: string;
  target: string;
  cron: string;
  tz: string;
  channel: string;
}

/**
 * Why `cron` is not a usable cron pattern, or undefined when it is. Five fields (minute
 * first) or six (seconds first), or an alias like `@daily`; parsed by BullMQ's own parser
 * (cron-parser, the version BullMQ pins; a test keeps them equal) so what is accepted here
 * is what the scheduler runs. Not through BullMQ's export: reading the configuration would
 * then load the whole queue client, in every CLI command too.
 */
export function cronProblem(cron: string): string | undefined {
  const trimmed = cron.trim();
  const fields = trimmed.split(/\s+/).filter(Boolean).length;
  if (!trimmed.startsWith('@') && fields !== 5 && fields !== 6) {
    return `is not a cron pattern: it has ${plural(fields, 'field')}, expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`;
  }
  try {
    parseAsScheduler(trimmed, 'UTC');
    return undefined;
  } catch (err) {
    return `is not a cron pattern: ${(err as Error).message}`;
  }
}

const require = createRequire(import.meta.url);

/**
 * Parses as BullMQ's getNextMillis does, so it throws where the scheduler would. The parser
 * is loaded on the first pattern given (CommonJS, so synchronously, as configuration is
 * read): the built-in defaults need no parsing, and a CLI command never loads it.
 */
function parseAsScheduler(pattern: string, tz: string): void {
  const { CronExpressionParser } = require('cron-parser') as typeof import('cron-parser');
  CronExpressionParser.parse(pattern, { tz, currentDate: new Date() });
}

/** Whether `tz` is an IANA time zone this runtime knows (`Europe/Berlin`, `UTC`). */
export function timeZoneProblem(tz: string): string | undefined {
  const problem = 'is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)';
  if (!isTimeZone(tz)) return problem;
  try {
    // The scheduler's cron parser must agree with Intl about the zone.
    parseAsScheduler('0 * * * *', tz);
    return undefined;
  } catch {
    return problem;
  }
}

/**
 * The defaults from the environment (as config.ts read them): `HEALTH_SCHEDULE_CHANNEL` (no channel → no schedules
 * unless a target names one), `HEALTH_SCHEDULE` (cron, default `0 9 * * *`),
 * `HEALTH_SCHEDULE_TZ` (default `UTC`). Throws a ConfigError naming every bad variable.
 */
export function healthScheduleDefaults(raw: {
  cron?: string;
  tz?: string;
  channel?: string;
}): HealthScheduleDefaults {
  const cron = raw.cron?.trim() || DEFAULT_HEALTH_SCHEDULE;
  const tz = raw.tz?.trim() || DEFAULT_HEALTH_SCHEDULE_TZ;
  const channel = raw.channel?.trim() || undefined;
  // Only what was given is checked: the defaults are known good (a test checks them).
  const problems = [
    problemLine('HEALTH_SCHEDULE', cron, raw.cron?.trim() ? cronProblem(cron) : undefined),
    problemLine('HEALTH_SCHEDULE_TZ', tz, raw.tz?.trim() ? timeZoneProblem(tz) : undefined),
    channel && !CHANNEL_ID.test(channel)
      ? problemLine('HEALTH_SCHEDULE_CHANNEL', channel, 'must be a Slack channel id like C0123ABCD')
      : undefined,
  ].filter((line): line is string => line !== undefined);
  if (problems.length > 0) throw new ConfigError(`Invalid health schedule settings:\n${problems.join('\n')}`);
  return { cron, tz, ...(channel ? { channel } : {}) };
}

/**
 * Every target's effective schedule (its own settings over the defaults), leaving out
 * targets that are disabled or have no channel to post to. Throws one ConfigError naming
 * every bad cron, time zone and channel, with the target and the value.
 */
export function resolveHealthSchedules(
  targets: Target[],
  defaults: HealthScheduleDefaults,
): HealthSchedule[] {
  const problems: string[] = [];
  const check = (where: string, value: string, problem: string | undefined) => {
    const line = problemLine(where, value, problem);
    if (line) problems.push(line);
  };
  check('default schedule cron', defaults.cron, cronProblem(defaults.cron));
  check('default schedule time zone', defaults.tz, timeZoneProblem(defaults.tz));
  const schedules: HealthSchedule[] = [];
  for (const target of targets) {
    const own = target.schedule ?? {};
    const where = `target "${target.name}" (${target.source}) schedule`;
    if (own.cron !== undefined) check(`${where}.cron`, own.cron, cronProblem(own.cron));
    if (own.tz !== undefined) check(`${where}.tz`, own.tz, timeZoneProblem(own.tz));
    if (own.channel !== undefined && !CHANNEL_ID.test(own.channel))
      check(`${where}.channel`, own.channel, 'must be a Slack channel id like C0123ABCD');
    const channel = own.channel ?? defaults.channel;
    if (own.enabled === false || !channel) continue;
    schedules.push({
      id: jobIdOf({ name: JOBS.scheduledHealth, data: { target: target.name, channel } })!,
      target: target.name,
      cron: (own.cron ?? defaults.cron).trim(),
      tz: own.tz ?? defaults.tz,
      channel,
    });
  }
  if (problems.length > 0) throw new ConfigError(`Invalid health schedule:\n${problems.join('\n')}`);
  return schedules;
}

/**
 * Makes the diagnostics queue's health schedulers match the configuration: one per enabled
 * target with a channel (upserted only when it differs, so a reboot does not move the next
 * run), and none for targets no longer configured. Safe to run at every boot, from every
 * replica. Returns the ids of the schedulers that now exist.
 */
export async function syncHealthSchedules(
  queues: QueueBackend,
  targets: Target[],
  defaults: HealthScheduleDefaults,
): Promise<string[]> {
  return applyHealthSchedules(queues, resolveHealthSchedules(targets, defaults));
}

/** One scheduler on the queue: a target's schedule, or the targets sharing a channel, cron and zone. */
export interface HealthScheduler {
  id: string;
  data: ScheduledHealthJob;
  cron: string;
  tz: string;
}

/**
 * The schedulers the schedules need: targets posting to the same channel on the same cron in
 * the same zone share one, whose fire checks them all and posts one digest of those that
 * changed, instead of a message per target at the same minute. A target alone keeps a
 * scheduler of its own (and its report is posted as it is).
 */
export function healthSchedulers(schedules: readonly HealthSchedule[]): HealthScheduler[] {
  const groups = new Map<string, HealthSchedule[]>();
  for (const schedule of schedules) {
    const key = `${schedule.channel}\n${schedule.cron}\n${schedule.tz}`;
    groups.set(key, [...(groups.get(key) ?? []), schedule]);
  }
  return [...groups.values()].map((group) => {
    const { channel, cron, tz } = group[0]!;
    const data: ScheduledHealthJob =
      group.length === 1
        ? { target: group[0]!.target, channel }
        : {
            targets: group.map((schedule) => schedule.target),
            channel,
            group: createHash('sha256').update(`${cron}\n${tz}`).digest('hex').slice(0, 12),
          };
    return { id: jobIdOf({ name: JOBS.scheduledHealth, data })!, data, cron, tz };
  });
}

/** The queue's half of syncHealthSchedules, for schedules already resolved (and so valid). */
export async function applyHealthSchedules(
  queues: QueueBackend,
  wanted: HealthSchedule[],
): Promise<string[]> {
  const existing = new Map(
    (await queues.schedulers(JOBS.scheduledHealth))
      .filter((scheduler) => scheduler.id.startsWith(SCHEDULER_PREFIX))
      .map((scheduler) => [scheduler.id, scheduler]),
  );
  const schedulers = healthSchedulers(wanted);
  for (const scheduler of schedulers) {
    const current = existing.get(scheduler.id);
    const same =
      current !== undefined &&
      current.name === JOBS.scheduledHealth &&
      current.pattern === scheduler.cron &&
      (current.tz ?? DEFAULT_HEALTH_SCHEDULE_TZ) === scheduler.tz &&
      sameData(current.data, scheduler.data);
    if (same) continue;
    await queues.schedule(
      { name: JOBS.scheduledHealth, data: scheduler.data },
      { pattern: scheduler.cron, tz: scheduler.tz },
    );
  }
  const keep = new Set(schedulers.map((scheduler) => scheduler.id));
  for (const id of existing.keys()) {
    if (!keep.has(id)) await queues.unschedule(JOBS.scheduledHealth, id);
  }
  return schedulers.map((scheduler) => scheduler.id);
}

function sameData(stored: unknown, data: ScheduledHealthJob): boolean {
  const parsed = CATALOG[JOBS.scheduledHealth].schema.safeParse(stored);
  return parsed.success && JSON.stringify(parsed.data) === JSON.stringify(data);
}

function problemLine(where: string, value: string, problem: string | undefined): string | undefined {
  return problem === undefined ? undefined : `  - ${where}: "${value}" ${problem}`;
}
