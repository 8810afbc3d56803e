import type { EvidenceRow, Finding } from './types.js';

/** Runs offered per finding: one per evidence row, as many as people can read at a glance. */
const RUNS_PER_FINDING = 3;

/**
 * The procedure of a finding with its parameters filled from what it found, one per evidence
 * row: `postgres-health#drop-duplicate-trigger schema=public table=orders trigger=orders_audit_2`,
 * to follow `/runbook run` or `runbook-bot run`. Names are written as identifiers (quoted
 * when they need it), which is how identifier parameters read them. Without parameters, the
 * procedure alone.
 */
export function findingProcedureRuns(finding: Finding, max = RUNS_PER_FINDING): string[] {
  const hint = finding.remediation;
  if (!hint) return [];
  if (!hint.params) return [hint.procedure];
  const runs: string[] = [];
  for (const row of finding.evidence) {
    const words = assignments(hint.params, row);
    if (!words) continue;
    const run = [hint.procedure, ...words].join(' ');
    if (!runs.includes(run)) runs.push(run);
    if (runs.length === max) break;
  }
  return runs.length > 0 ? runs : [hint.procedure];
}

function assignments(params: Record<string, string>, row: EvidenceRow): string[] | undefined {
  const words: string[] = [];
  for (const [name, column] of Object.entries(params)) {
    const value = row[column];
    if (typeof value !== 'string' || value === '') return undefined;
    words.push(`${name}=${commandWord(asIdentifier(value))}`);
  }
  return words;
}

/**
 * A catalog name as an identifier value: plain names as they are, others double-quoted.
 * Checks give names as the catalog holds them (nspname, relname), never quote_ident'd, so
 * a name that is itself in double quotes is quoted again.
 */
function asIdentifier(name: string): string {
  if (/^[a-z_][a-z0-9_$]*$/.test(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

/** Single quotes keep a value with spaces or double quotes one word of the command. */
function commandWord(value: string): string {
  return /[\s"']/.test(value) && !value.includes("'") ? `'${value}'` : value;
}
