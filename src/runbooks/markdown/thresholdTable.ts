/**
 * A runbook's alert-threshold table: a table whose header has a metric column (`Metric`,
 * `Alert`, `Signal`) and a `Warning` and/or `Critical` column, each cell an operator and a
 * value as the author wrote it: `| Connections | > 60 | > 80 | Kill idle connections |`.
 * The rows are kept as written; which health check each one sets is decided in
 * src/health/runbookThresholds.ts, so the parser knows nothing of the check catalog.
 */
import type { RootContent, Table } from 'mdast';
import type { AlertThresholdBound, RunbookAlertThreshold } from '../model.js';
import { plainText } from './mdText.js';
import type { OutlineHeading } from './outline.js';

const METRIC_HEADER = /\b(?:metric|alert|signal|measure|indicator)s?\b/i;
const WARN_HEADER = /\bwarn(?:ing)?\b/i;
const CRITICAL_HEADER = /\bcrit(?:ical)?\b/i;
const BOUND = /^\s*(>=|<=|≥|≤|>|<)\s*(.+?)\s*$/;

function boundOf(cell: string): AlertThresholdBound | undefined {
  const match = BOUND.exec(cell);
  if (!match) return cell.trim() ? { operator: undefined, value: cell.trim() } : undefined;
  const written = match[1]!;
  const operator =
    written === '≥' ? '>=' : written === '≤' ? '<=' : (written as AlertThresholdBound['operator']);
  return { operator, value: match[2]! };
}

function readTable(table: Table): RunbookAlertThreshold[] {
  const [header, ...rows] = table.children;
  if (!header) return [];
  const names = header.children.map((cell) => plainText(cell));
  const metricColumn = names.findIndex((name) => METRIC_HEADER.test(name));
  const warnColumn = names.findIndex((name) => WARN_HEADER.test(name));
  const criticalColumn = names.findIndex((name) => CRITICAL_HEADER.test(name));
  if (metricColumn < 0 || (warnColumn < 0 && criticalColumn < 0)) return [];
  const found: RunbookAlertThreshold[] = [];
  for (const row of rows) {
    const cells = row.children.map((cell) => plainText(cell));
    const metric = (cells[metricColumn] ?? '').trim();
    if (!metric) continue;
    const warn = warnColumn >= 0 ? boundOf(cells[warnColumn] ?? '') : undefined;
    const critical = criticalColumn >= 0 ? boundOf(cells[criticalColumn] ?? '') : undefined;
    if (!warn && !critical) continue;
    found.push({
      metric,
      ...(warn ? { warn } : {}),
      ...(critical ? { critical } : {}),
      line: row.position?.start.line ?? 1,
    });
  }
  return found;
}

/** Every row of every alert-threshold table in the runbook, in file order. */
export function readAlertThresholds(
  preamble: RootContent[],
  headings: OutlineHeading[],
): RunbookAlertThreshold[] {
  const found: RunbookAlertThreshold[] = [];
  for (const content of [preamble, ...headings.map((heading) => heading.content)]) {
    for (const node of content) if (node.type === 'table') found.push(...readTable(node));
  }
  return found.sort((a, b) => a.line - b.line);
}
