import pc from 'picocolors';
import { evidenceLines } from '../health/evidenceTable.js';
import { findingProcedureRuns } from '../health/findingProcedures.js';
import type { CheckStatus, EvidenceRow, Finding, HealthReport, ReportStatus } from '../health/types.js';
import { formatDuration } from '../health/units.js';
import { plural } from '../text.js';

const CELL_WIDTH = 48;
const EVIDENCE_ROWS = 5;

type Paint = (text: string) => string;

function painter(color: boolean) {
  const wrap = (fn: Paint): Paint => (color ? fn : (text) => text);
  return {
    status: (status: CheckStatus | ReportStatus): string => {
      const label = status === 'critical' ? 'CRIT' : status.toUpperCase();
      const padded = label.padEnd(7);
      if (status === 'critical' || status === 'unreachable') return wrap((t) => pc.bold(pc.red(t)))(padded);
      if (status === 'warn' || status === 'error') return wrap(pc.yellow)(padded);
      if (status === 'ok') return wrap(pc.green)(padded);
      return wrap(pc.dim)(padded);
    },
    dim: wrap(pc.dim),
    bold: wrap(pc.bold),
  };
}

/** The terminal report: problems first with their evidence and next step, then the rest. */
export function renderHealthReport(report: HealthReport, options: { color: boolean }): string {
  const paint = painter(options.color);
  const lines: string[] = [];
  const version = report.serverVersion ? `PostgreSQL ${report.serverVersion}, ` : '';
  lines.push(
    `${paint.bold(`Health of ${report.target}`)}: ${paint.status(report.status).trim()} ` +
      paint.dim(
        `(${version}${plural(report.findings.length, 'check')} in ${formatDuration(report.durationMs)})`,
      ),
  );
  if (report.unreachable) {
    lines.push(`  unreachable: ${report.unreachable}`);
    return lines.join('\n');
  }
  if (report.roleWarning) lines.push(`  warning: ${report.roleWarning}`);
  const problems = report.findings.filter(
    (f) => f.status === 'critical' || f.status === 'warn' || f.status === 'error',
  );
  const rest = report.findings.filter((f) => !problems.includes(f));
  const idWidth = Math.max(...report.findings.map((f) => f.id.length), 5) + 2;
  for (const finding of sortBySeverity(problems)) {
    lines.push('');
    lines.push(`${paint.status(finding.status)} ${paint.bold(finding.id.padEnd(idWidth))}${finding.summary}`);
    if (finding.evidence.length > 0) {
      for (const row of renderEvidence(finding.evidence.slice(0, EVIDENCE_ROWS)))
        lines.push(`        ${paint.dim(row)}`);
      const shown = Math.min(finding.evidence.length, EVIDENCE_ROWS);
      if (finding.evidenceTotal > shown) {
        lines.push(
          `        ${paint.dim(`… ${shown} of ${finding.evidenceTotal} shown (--json has ${finding.evidence.length})`)}`,
        );
      }
    }
    if (finding.remediation) {
      lines.push(`        → ${finding.remediation.text} ${paint.dim(`[${finding.remediation.procedure}]`)}`);
      if (finding.remediation.params)
        for (const run of findingProcedureRuns(finding))
          lines.push(`          ${paint.dim(`runbook-bot run ${run}`)}`);
    }
  }
  if (problems.length > 0) lines.push('');
  for (const finding of rest) {
    lines.push(`${paint.status(finding.status)} ${finding.id.padEnd(idWidth)}${paint.dim(finding.summary)}`);
  }
  return lines.join('\n');
}

const SEVERITY: Record<CheckStatus, number> = { critical: 0, error: 1, warn: 2, skipped: 3, ok: 4 };

function sortBySeverity(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => SEVERITY[a.status] - SEVERITY[b.status]);
}

/** A small aligned table; long cells are cut with an ellipsis (the JSON output has them whole). */
export function renderEvidence(rows: EvidenceRow[]): string[] {
  return evidenceLines(rows, CELL_WIDTH);
}
