import { beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import type { Finding } from '../../src/health/types.js';
import {
  healthCheckRelations,
  relatedFinding,
  relatedFindingText,
  relatedHealthChecks,
} from '../../src/runbooks/relatedHealthChecks.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';

describe('health checks related to procedures', () => {
  let library: RunbookLibrary;
  beforeAll(async () => {
    library = (await RunbookLibrary.load(runbookSources())).library;
  });

  it('relates few checks, the right ones, across every built-in runbook', () => {
    // Eyeballed: seed 000's duplicate-trigger procedure is the one whose own check misses
    // what duplicate_triggers finds. No check relates to a procedure that is not about it.
    expect(Object.fromEntries(healthCheckRelations(library.procedures()))).toEqual({
      'hampton-mowerpower-system-runbook#issue-duplicate-triggers-causing-conflicts': ['duplicate_triggers'],
    });
  });

  it('answers per procedure, and nothing for a procedure no check is about', () => {
    expect(
      relatedHealthChecks(
        'hampton-mowerpower-system-runbook#issue-duplicate-triggers-causing-conflicts',
        library,
      ),
    ).toEqual(['duplicate_triggers']);
    // The check's own procedure already diagnoses what the check finds.
    expect(relatedHealthChecks('postgres-health#drop-duplicate-trigger', library)).toEqual([]);
    expect(relatedHealthChecks('production-operations-runbook#1-circuit-breaker-recovery', library)).toEqual(
      [],
    );
    expect(relatedHealthChecks('no-such#procedure', library)).toEqual([]);
  });

  it('says what a related check found in one line, with the procedure to run when it is not ok', () => {
    const check = HEALTH_CHECKS.find((found) => found.id === 'duplicate_triggers')!;
    const finding: Finding = {
      id: check.id,
      title: check.title,
      status: 'warn',
      summary: '1 duplicate trigger pair; public.jobs_db runs bump_version() twice BEFORE UPDATE (a, b)',
      threshold: null,
      evidence: [{ schema: 'public', table: 'jobs_db', first_trigger: 'a', second_trigger: 'b' }],
      evidenceTotal: 1,
      remediation: check.remediation,
      durationMs: 1,
    };
    expect(relatedFindingText(relatedFinding(finding, 'shop'))).toBe(
      "The bot's own check duplicate_triggers on shop: warn — 1 duplicate trigger pair; public.jobs_db runs bump_version() twice BEFORE UPDATE (a, b) → postgres-health#drop-duplicate-trigger schema=public table=jobs_db trigger=b",
    );
    expect(
      relatedFindingText(
        relatedFinding(
          { ...finding, status: 'ok', summary: 'no table runs the same trigger function twice' },
          'shop',
        ),
      ),
    ).toBe(
      "The bot's own check duplicate_triggers on shop: ok — no table runs the same trigger function twice",
    );
  });
});
