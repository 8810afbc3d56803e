import pc from 'picocolors';
import { tableLines } from '../health/evidenceTable.js';
import { formatDuration } from '../health/units.js';
import { durationText } from '../incidents/escalation.js';
import type { CheckResult } from '../runbooks/execute/runChecks.js';
import type { LintFinding } from '../runbooks/lint/findings.js';
import type { ProcedureMatch } from '../runbooks/matchProcedures.js';
import { type Procedure, type Runbook, type Step, statementParameters } from '../runbooks/model.js';
import { plural } from '../text.js';

/** Plain-text renderings of runbooks for the terminal: what `lint`, `show` and `run` print. */

type Paint = (text: string) => string;
const plain: Paint = (text) => text;

export interface Colors {
  bold: Paint;
  dim: Paint;
  red: Paint;
  yellow: Paint;
  green: Paint;
}

export function colors(enabled: boolean): Colors {
  return enabled
    ? { bold: pc.bold, dim: pc.dim, red: pc.red, yellow: pc.yellow, green: pc.green }
    : { bold: plain, dim: plain, red: plain, yellow: plain, green: plain };
}

export function stepLine(step: Step, position: number, c: Colors): string {
  const number = `${position}.`.padEnd(4);
  if (step.kind === 'manual') {
    return `${number}${c.dim('manual'.padEnd(13))} ${step.title}${step.code ? c.dim(` [${step.code.lang || 'text'} block]`) : ''}`;
  }
  const params = statementParameters(step.statement)
    .map((param) => `${param.name}:${param.type}`)
    .join(' ');
  const label =
    step.kind === 'check'
      ? c.green('check'.padEnd(13))
      : (step.risk === 'high' ? c.red : c.yellow)(`action ${step.risk}`.padEnd(13));
  const notes =
    step.kind === 'action'
      ? [
          ...new Set([
            ...step.actionReasons,
            ...step.riskReasons,
            step.noTransaction ? 'outside a transaction' : '',
          ]),
        ]
          .filter(Boolean)
          .join('; ')
      : step.expect
        ? `expects ${step.expect.text}${step.expect.from === 'prose' ? `, from line ${step.expect.line}` : ''}`
        : '';
  return (
    `${number}${label} ${step.statement.kind.padEnd(16)} ${step.title}` +
    (params ? c.dim(`  [${params}]`) : '') +
    (notes ? c.dim(`  (${notes})`) : '')
  );
}

export function procedureLines(procedure: Procedure, c: Colors, indent = ''): string[] {
  return [
    `${indent}${c.bold(procedure.id)}  ${procedure.title}  ${c.dim(`line ${procedure.source.line}`)}`,
    ...procedure.steps.map((step, i) => `${indent}    ${stepLine(step, i + 1, c)}`),
  ];
}

/** What the loader understood of one file: the runbook author's view. */
export function lintLines(runbook: Runbook, c: Colors): string[] {
  const counts = { check: 0, action: 0, manual: 0 };
  for (const procedure of runbook.procedures) for (const step of procedure.steps) counts[step.kind] += 1;
  return [
    `${c.bold(runbook.source.file)}: ${runbook.title} (${runbook.id})`,
    `  ${plural(runbook.procedures.length, 'procedure')}; ${plural(counts.check, 'check')}, ${plural(counts.action, 'action')}, ${plural(counts.manual, 'manual step')}; ${plural(runbook.warnings.length, 'warning')}`,
    ...runbook.procedures.flatMap((procedure) => procedureLines(procedure, c, '  ')),
    ...incidentPolicyLines(runbook),
    ...runbook.warnings.map((warning) =>
      c.yellow(`  warning ${runbook.source.file}:${warning.line}: ${warning.message}`),
    ),
  ];
}

/** Lint findings: `error file:line (procedure): message`, the suggestion below it. */
export function findingLines(findings: LintFinding[], c: Colors): string[] {
  return findings.flatMap((finding) => {
    const paint = finding.severity === 'error' ? c.red : c.yellow;
    const where = `${finding.file}:${finding.line}${finding.procedure ? ` (${finding.procedure})` : ''}`;
    return [
      paint(`  ${finding.severity} ${where}: ${finding.message} [${finding.rule}]`),
      ...(finding.suggestion ? [c.dim(`      ${finding.suggestion}`)] : []),
    ];
  });
}

/** The severity table and milestones incidents take from the runbook, as they were read. */
function incidentPolicyLines(runbook: Runbook): string[] {
  const policy = runbook.incidentPolicy;
  if (!policy) return [];
  const lines: string[] = [];
  if (policy.severities.length > 0)
    lines.push(
      `  severities (incidents about this runbook): ${policy.severities
        .map(
          (row) =>
            `${row.severity} ${row.responseMs === 0 ? 'immediate' : durationText(row.responseMs)}${row.page ? ', paged' : ''}`,
        )
        .join('; ')}`,
    );
  if (policy.escalation)
    lines.push(
      `  escalation path (where the configuration sets none): ${policy.escalation
        .map((level) => `${level.name}${level.severities ? ` (${level.severities.join(', ')} only)` : ''}`)
        .join(' → ')}`,
    );
  for (const milestone of policy.milestones)
    lines.push(
      `  milestone ${milestone.severity} ${milestone.atMs === 0 ? 'right away' : `within ${durationText(milestone.atMs)}`}: ${milestone.text}`,
    );
  return lines;
}

export function matchLines(matches: ProcedureMatch[], c: Colors): string[] {
  return matches.map(
    (match, i) =>
      `${i + 1}. ${c.bold(match.procedure.id)}  ${match.procedure.title}  ${c.dim(`score ${match.score.toFixed(1)}; matched ${match.because.join(', ')}`)}`,
  );
}

export function checkResultLines(result: CheckResult, c: Colors): string[] {
  if (result.status === 'action')
    return [
      c.yellow(
        `    not run: an action on this target (risk ${result.risk ?? 'medium'}), it needs a preview and approval in Slack`,
      ),
      ...(result.actionReasons ?? []).map((reason) => c.yellow(`      ${reason}`)),
    ];
  if (result.status === 'error') return [c.red(`    error: ${result.error ?? 'failed'}`)];
  return [...rowLines(result, c), ...verdictLines(result, c)];
}

function rowLines(result: CheckResult, c: Colors): string[] {
  if (result.rowCount === 0) return [c.dim(`    no rows (${formatDuration(result.durationMs)})`)];
  const more = result.rowCount - result.rows.length;
  return [
    ...tableLines(result.columns, result.rows, 60).map((line) => `    ${line}`),
    c.dim(
      `    ${plural(result.rowCount, 'row')} (${formatDuration(result.durationMs)})${more > 0 ? `; the first ${result.rows.length} shown` : ''}`,
    ),
  ];
}

/** The check's verdict, green or red, when it expects something. */
function verdictLines(result: CheckResult, c: Colors): string[] {
  const { verdict } = result;
  if (!verdict) return [];
  return [
    verdict.met
      ? c.green(`    ✔ expected ${verdict.expected}: met (${verdict.got})`)
      : c.red(`    ✘ expected ${verdict.expected}, got ${verdict.got}`),
  ];
}
