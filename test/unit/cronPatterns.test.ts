import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getNextMillis } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { cronProblem, healthScheduleDefaults, timeZoneProblem } from '../../src/schedules/healthSchedules.js';

const require = createRequire(import.meta.url);
const versionOf = (pkg: string) =>
  (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;

/** Whether BullMQ's scheduler accepts the pattern in the zone (it throws where it cannot parse). */
function schedulerAccepts(pattern: string, tz: string): boolean {
  try {
    getNextMillis(Date.now(), { pattern, tz });
    return true;
  } catch {
    return false;
  }
}

describe('cron patterns and zones are checked by the parser the scheduler uses', () => {
  it('our cron-parser is the version BullMQ pins', () => {
    const bullmq = JSON.parse(readFileSync(require.resolve('bullmq/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(versionOf('cron-parser')).toBe(bullmq.dependencies['cron-parser']);
  });

  it.each([
    '0 9 * * *',
    '*/15 * * * *',
    '0 0 9 * * 1-5',
    '@daily',
    '0 0 30 2 *',
    '61 * * * *',
    '0 9 * * mon-fri',
    '@sometimes',
  ])('%s: accepted exactly when BullMQ accepts it', (pattern) => {
    expect(cronProblem(pattern) === undefined).toBe(schedulerAccepts(pattern, 'UTC'));
  });

  it.each(['UTC', 'Europe/Berlin', 'Asia/Kolkata', 'Mars/Base', 'CET'])(
    '%s: a zone is accepted exactly when Intl and BullMQ both accept it',
    (zone) => {
      expect(timeZoneProblem(zone) === undefined).toBe(schedulerAccepts('0 * * * *', zone));
    },
  );

  it('the built-in defaults, which are not parsed when the configuration is read, parse', () => {
    const defaults = healthScheduleDefaults({});
    expect(cronProblem(defaults.cron)).toBeUndefined();
    expect(timeZoneProblem(defaults.tz)).toBeUndefined();
    expect(schedulerAccepts(defaults.cron, defaults.tz)).toBe(true);
  });

  it('a pattern or zone given is still parsed, and a bad one refused with its variable named', () => {
    expect(() => healthScheduleDefaults({ cron: '0 0 30 2 *' })).toThrow(/HEALTH_SCHEDULE/);
    expect(() => healthScheduleDefaults({ tz: 'Mars/Base' })).toThrow(/HEALTH_SCHEDULE_TZ/);
  });
});
