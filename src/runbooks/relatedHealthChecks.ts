import type pg from 'pg';
import { HEALTH_CHECKS } from '../health/catalog.js';
import { runHealthCheck } from '../health/engine.js';
import { findingProcedureRuns } from '../health/findingProcedures.js';
import type { RunbookThresholdLayer } from '../health/thresholds.js';
import type { CheckDefinition, CheckStatus, Finding } from '../health/types.js';
import type { Logger } from '../logger.js';
import type { Target } from '../targets/target.js';
import { type ProcedureMatch, procedureMatcher } from './matchProcedures.js';
import type { Runbook } from './model.js';
import type { ProcedureRef, RunbookLibrary } from './runbookLibrary.js';

/*
 * A runbook's author writes "find the duplicate triggers" in their own SQL, which may miss
 * what the bot's own health check finds (seed 000 groups triggers by name, so two triggers
 * with different names running one function are never found). A run of such a procedure
 * also runs the related built-in checks and says what they found, beside the author's
 * results, which still run as written.
 *
 * Related means: the check's title and description match the procedure (matchProcedures,
 * the scoring of `/runbook match`) nearly as well as they match the check's own procedure in
 * the health runbook. That anchor keeps the rule honest: a check whose words do not clearly
 * pick out its own procedure is too generic to relate anything, and a procedure that merely
 * shares a few words with a check ("table", "database") scores far below it. Procedures of
 * the check's own runbook are left out: each finding names its procedure there already.
 */

/** How close to the check's own procedure's score another procedure must come. */
const NEAR = 0.8;
/** Below this a match is a handful of common words, however close the scores. */
const MIN_SCORE = 20;

/** The procedures outside its own runbook that a check is related to. */
function relatedProcedureIds(
  check: CheckDefinition,
  rank: (text: string, limit: number) => ProcedureMatch[],
): string[] {
  const home = check.remediation?.procedure;
  if (!home) return [];
  const matches = rank(`${check.title}. ${check.description}`, Number.POSITIVE_INFINITY);
  const own = matches.find((match) => match.procedure.id === home);
  if (!own || own.score < NEAR * (matches[0]?.score ?? 0)) return [];
  return matches
    .filter(
      (match) => match.runbook.id !== own.runbook.id && match.score >= Math.max(MIN_SCORE, NEAR * own.score),
    )
    .map((match) => match.procedure.id);
}

/** Per loaded set of runbooks (a reload swaps the set): scoring every check is not free. */
const relationsOfSet = new WeakMap<readonly Runbook[], Map<string, string[]>>();

/**
 * The ids of the built-in health checks related to one procedure of the library, as the
 * library is now: decided when a run is recorded, so a reload does not change a run.
 */
export function relatedHealthChecks(
  procedureId: string,
  library: Pick<RunbookLibrary, 'list' | 'procedures'>,
): string[] {
  const set = library.list();
  let relations = relationsOfSet.get(set);
  if (!relations) {
    relations = healthCheckRelations(library.procedures());
    relationsOfSet.set(set, relations);
  }
  return relations.get(procedureId) ?? [];
}

/** Every procedure of a set with the checks related to it (only procedures that have some). */
export function healthCheckRelations(
  procedures: ProcedureRef[],
  checks: readonly CheckDefinition[] = HEALTH_CHECKS,
): Map<string, string[]> {
  const rank = procedureMatcher(procedures);
  const relations = new Map<string, string[]>();
  for (const check of checks)
    for (const id of relatedProcedureIds(check, rank))
      relations.set(id, [...(relations.get(id) ?? []), check.id]);
  return relations;
}

export interface RelatedCheckOptions {
  logger?: Logger;
  runbookThresholds?: RunbookThresholdLayer;
}

/** What a related check found, in parts each medium sets in its own type; stored with the run. */
export interface RelatedFinding {
  check: string;
  target: string;
  status: CheckStatus;
  summary: string;
  /** The procedure to run about it, with its parameters filled from the finding; none when ok. */
  next?: string;
}

/**
 * Runs the related checks on the run's target. Never throws and never fails the run: the
 * author's checks are the run's result, these only add to it. An unreachable target gives
 * nothing (the run's own checks already say why); a check the catalog no longer has (the
 * run was recorded by an older version) is skipped.
 */
export async function runRelatedHealthChecks(
  target: Target,
  pool: pg.Pool,
  checkIds: readonly string[],
  options: RelatedCheckOptions = {},
): Promise<RelatedFinding[]> {
  const only = checkIds.filter((id) => HEALTH_CHECKS.some((check) => check.id === id));
  if (only.length === 0) return [];
  try {
    const report = await runHealthCheck(target, pool, { ...options, only });
    return report.unreachable ? [] : report.findings.map((finding) => relatedFinding(finding, target.name));
  } catch (err) {
    options.logger?.warn({ err, target: target.name }, 'related health checks could not run');
    return [];
  }
}

/** Parts of a finding, the procedure to run filled in now: a stored finding's params lose their order. */
export function relatedFinding(finding: Finding, target: string): RelatedFinding {
  const next = finding.status === 'ok' ? undefined : findingProcedureRuns(finding, 1)[0];
  return {
    check: finding.id,
    target,
    status: finding.status,
    summary: finding.summary,
    ...(next ? { next } : {}),
  };
}

/** The one plain line: "The bot's own check duplicate_triggers on db: warn — … → postgres-health#…". */
export function relatedFindingText(found: RelatedFinding): string {
  const line = `The bot's own check ${found.check} on ${found.target}: ${found.status} — ${found.summary}`;
  return found.next ? `${line} → ${found.next}` : line;
}
