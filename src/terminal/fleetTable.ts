import pc from 'picocolors';
import {
  connectionWaitText,
  fleetStatus,
  statusCounts,
  worstFindingsText,
  worstFirst,
} from '../health/fleet.js';
import type { HealthReport, ReportStatus } from '../health/types.js';
import { formatDuration } from '../health/units.js';
import { plural } from '../text.js';

const LABEL: Record<ReportStatus, string> = {
  unreachable: 'UNREACH',
  critical: 'CRIT',
  warn: 'WARN',
  ok: 'OK',
};

function paintStatus(status: ReportStatus, color: boolean): string {
  const padded = LABEL[status].padEnd(8);
  if (!color) return padded;
  if (status === 'critical' || status === 'unreachable') return pc.bold(pc.red(padded));
  if (status === 'warn') return pc.yellow(padded);
  return pc.green(padded);
}

export interface FleetSummary {
  label: string;
  reports: HealthReport[];
  durationMs: number;
  /** How many ran at once, and what held it there (fleetPaceText). */
  pace: string;
}

/** The fleet matrix: one line per target, worst first, and a closing count. */
export function renderFleetTable(summary: FleetSummary, options: { color: boolean }): string {
  const rows = worstFirst(summary.reports);
  const nameWidth = Math.max(6, ...rows.map((r) => r.target.length)) + 2;
  const dim = (text: string) => (options.color ? pc.dim(text) : text);
  const lines = [
    dim(`${'target'.padEnd(nameWidth)}${'status'.padEnd(8)} ${'duration'.padStart(8)}  worst findings`),
  ];
  for (const report of rows) {
    lines.push(
      `${report.target.padEnd(nameWidth)}${paintStatus(report.status, options.color)} ${formatDuration(report.durationMs).padStart(8)}  ${worstFindingsText(report)}`.trimEnd(),
    );
  }
  const status = fleetStatus(rows.map((r) => r.status));
  lines.push('');
  lines.push(
    `${summary.label}: ${paintStatus(status, options.color).trim()} — ${plural(rows.length, 'target')}: ${statusCounts(rows.map((r) => r.status))} ` +
      dim(`(${formatDuration(summary.durationMs)}, ${summary.pace})`),
  );
  const waited = connectionWaitText(rows);
  if (waited) lines.push(dim(waited));
  return lines.join('\n');
}
