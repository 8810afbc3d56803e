import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { CheckResult } from '../../src/runbooks/execute/runChecks.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import { resolveProcedureSchedules } from '../../src/schedules/procedureSchedules.js';
import { decideScheduledProcedure, fingerprint } from '../../src/schedules/scheduledProcedureDecision.js';
import { testTarget } from '../support/databases.js';

let library: RunbookLibrary;
beforeAll(async () => {
  ({ library } = await RunbookLibrary.load(runbookSources()));
}, 60_000);

const DEFAULTS = { cron: '0 9 * * *', tz: 'UTC', channel: 'CDEFAULT' };
const MORNING = 'database-operations-runbook#morning-checklist-9-am';
const EVENING = 'database-operations-runbook#evening-checklist-6-pm';
const SPOT_CHECK = 'hampton-mowerpower-system-runbook#3-data-integrity-spot-check';

describe('procedure schedules from the targets file', () => {
  it("seed 003's 9 AM and 6 PM checklists and seed 000's spot check, in the team's zone", () => {
    const target = testTarget('postgres://x/y', {
      name: 'shop',
      schedule: { tz: 'Europe/London', channel: 'CTEAM' },
      procedureSchedules: [
        { procedure: MORNING, at: '09:00' },
        { procedure: EVENING, at: '18:00', channel: 'COPS' },
        { procedure: SPOT_CHECK, cron: '30 8 * * 1-5', tz: 'America/New_York' },
      ],
    });
    expect(resolveProcedureSchedules([target], DEFAULTS, library)).toEqual([
      {
        id: `scheduled-procedure-shop-${MORNING}-0_9_*_*_*-CTEAM`,
        target: 'shop',
        procedure: MORNING,
        cron: '0 9 * * *',
        tz: 'Europe/London',
        channel: 'CTEAM',
      },
      expect.objectContaining({
        procedure: EVENING,
        cron: '0 18 * * *',
        tz: 'Europe/London',
        channel: 'COPS',
      }),
      expect.objectContaining({ procedure: SPOT_CHECK, cron: '30 8 * * 1-5', tz: 'America/New_York' }),
    ]);
  });

  it('a schedule with enabled: false is left out; without any channel it is an error', () => {
    const off = testTarget('postgres://x/y', {
      procedureSchedules: [{ procedure: MORNING, at: '09:00', enabled: false }],
    });
    expect(resolveProcedureSchedules([off], DEFAULTS, library)).toEqual([]);
    const noChannel = testTarget('postgres://x/y', {
      procedureSchedules: [{ procedure: MORNING, at: '09:00' }],
    });
    expect(() =>
      resolveProcedureSchedules([noChannel], { cron: '0 9 * * *', tz: 'UTC' }, library),
    ).toThrowError(
      /procedure_schedules\[0\]\.channel: no channel to post to: set channel here, schedule.channel on the target, or HEALTH_SCHEDULE_CHANNEL/,
    );
  });

  it('names every bad entry at once: unknown procedure with suggestions, bad cron and zone, a duplicate', () => {
    const target = testTarget('postgres://x/y', {
      name: 'shop',
      source: 'targets.yml (targets.shop)',
      procedureSchedules: [
        { procedure: 'morning-checklist', at: '09:00' },
        { procedure: MORNING, cron: '0 9 * *' },
        { procedure: MORNING, at: '09:00', tz: 'Mars/Olympus' },
        { procedure: EVENING, at: '18:00' },
        { procedure: EVENING, cron: '0 18 * * *' },
      ],
    });
    let message = '';
    try {
      resolveProcedureSchedules([target], DEFAULTS, library);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    const where = 'target "shop" (targets.yml (targets.shop)) procedure_schedules';
    expect(message).toContain(
      `${where}[0].procedure: No procedure "morning-checklist". Did you mean \`${MORNING}\``,
    );
    expect(message).toContain(`${where}[1].cron: "0 9 * *" is not a cron pattern: it has 4 fields`);
    expect(message).toContain(`${where}[2].tz: "Mars/Olympus" is not an IANA time zone`);
    expect(message).toContain(
      `${where}[4].procedure: ${EVENING} is already scheduled at "0 18 * * *" to CDEFAULT`,
    );
  });
});

const result = (rows: string[][], status: CheckResult['status'] = 'ok', error?: string): CheckResult => ({
  status,
  columns: ['job_number', 'customer_name'],
  rows,
  rowCount: rows.length,
  truncated: false,
  durationMs: 1,
  ...(error ? { error } : {}),
});

describe('whether a scheduled run is posted', () => {
  const same = {
    s1: fingerprint(
      result([
        ['J1', 'Ann'],
        ['J2', 'Bob'],
      ]),
    ),
  };

  it('the first run is posted; the same rows in another order are not a change', () => {
    expect(decideScheduledProcedure(undefined, same)).toMatchObject({ post: true, reason: 'first' });
    const reordered = {
      s1: fingerprint(
        result([
          ['J2', 'Bob'],
          ['J1', 'Ann'],
        ]),
      ),
    };
    expect(decideScheduledProcedure(same, reordered)).toEqual({ post: false, reason: 'unchanged' });
  });

  it('a changed row set is posted, naming the check', () => {
    const nulls = {
      s1: fingerprint(
        result([
          ['J1', 'Ann'],
          ['J2', ''],
        ]),
      ),
    };
    expect(decideScheduledProcedure(same, nulls)).toEqual({ post: true, reason: 'changed', changed: ['s1'] });
  });

  it('an error is posted the first time, not while it persists (whatever its text), and its end is posted', () => {
    const failing = { s1: fingerprint(result([], 'error', 'relation "jobs_db" does not exist')) };
    expect(decideScheduledProcedure(same, failing)).toMatchObject({ post: true, changed: ['s1'] });
    const stillFailing = {
      s1: fingerprint(result([], 'error', 'canceling statement due to statement timeout')),
    };
    expect(decideScheduledProcedure(failing, stillFailing)).toEqual({ post: false, reason: 'unchanged' });
    expect(decideScheduledProcedure(stillFailing, same)).toMatchObject({ post: true, changed: ['s1'] });
  });

  it('a check that appears or disappears is a change', () => {
    expect(decideScheduledProcedure(same, { ...same, s2: fingerprint(result([])) })).toMatchObject({
      post: true,
      changed: ['s2'],
    });
  });
});
