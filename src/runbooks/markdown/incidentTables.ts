/**
 * What a runbook says about incidents outside its procedures:
 *
 * - A severity table: a table with a severity column (`Severity`, `Level`, `Priority`) whose
 *   cells name P0–P3, and a response-time column (`Response Time`, `Response`, `SLA`); a
 *   `Page` column of yes/no is read too. `| Circuit breaker open | P1 | 5 minutes | Yes |`
 *   and `| **P1 - High** | Major feature broken | < 1 hour | … |` are both rows of one.
 * - Milestones: list items under a heading that names one severity (`### P0 (Critical) -
 *   Platform Down`) that start with a time: `**Within 10 min**: Notify stakeholders`,
 *   `**Immediate**: Check Supabase status page`. Items without a time (`Post-incident: …`)
 *   are not milestones.
 */
import type { List, RootContent, Table } from 'mdast';
import { parseDurationPhrase } from '../../time.js';
import type {
  LoaderWarning,
  RunbookIncidentPolicy,
  RunbookMilestone,
  RunbookSeverity,
  SeverityName,
} from '../model.js';
import { blockText, plainText } from './mdText.js';
import type { OutlineHeading } from './outline.js';

const SEVERITY_IN = /\bP([0-3])\b/;
const SEVERITY_HEADER = /\b(?:severity|level|priority)\b/i;
const RESPONSE_HEADER = /\b(?:response|respond|sla|acknowledge)\b/i;
const PAGE_HEADER = /^(?:page|paged|paging|pager)\b/i;

function severityOf(text: string): SeverityName | undefined {
  const match = SEVERITY_IN.exec(text);
  return match ? (`P${match[1]}` as SeverityName) : undefined;
}

/** "P0 - Critical", "P0 (Critical)" → "P0 Critical"; a bare "P0" has no label of its own. */
function labelOf(cell: string, severity: SeverityName): string | undefined {
  const rest = cell
    .replace(SEVERITY_IN, '')
    .replace(/[-–—:()[\]]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return rest ? `${severity} ${rest}` : undefined;
}

function yesNo(cell: string): boolean | undefined {
  if (/^(?:yes|y|true|✅|always)\b/i.test(cell)) return true;
  if (/^(?:no|n|false|❌|never)\b/i.test(cell)) return false;
  return undefined;
}

function readTable(table: Table, warnings: LoaderWarning[]): RunbookSeverity[] {
  const [header, ...rows] = table.children;
  if (!header) return [];
  const names = header.children.map((cell) => plainText(cell));
  const severityColumn = names.findIndex((name) => SEVERITY_HEADER.test(name));
  const responseColumn = names.findIndex((name) => RESPONSE_HEADER.test(name));
  if (severityColumn < 0 || responseColumn < 0) return [];
  const pageColumn = names.findIndex((name) => PAGE_HEADER.test(name));
  const found: RunbookSeverity[] = [];
  for (const row of rows) {
    const cells = row.children.map((cell) => plainText(cell));
    const line = row.position?.start.line ?? 1;
    const severity = severityOf(cells[severityColumn] ?? '');
    if (!severity) continue;
    const response = cells[responseColumn] ?? '';
    const responseMs = parseDurationPhrase(response);
    if (responseMs === undefined) {
      warnings.push({
        line,
        message: `severity table at line ${line}: "${response}" is not a response time the bot reads (write "Immediate", "5 minutes", "< 1 hour" or "Next day"); ${severity} keeps its default`,
      });
      continue;
    }
    if (found.some((known) => known.severity === severity)) {
      warnings.push({
        line,
        message: `severity table at line ${line}: ${severity} appears again; its first row applies`,
      });
      continue;
    }
    const label = labelOf(cells[severityColumn] ?? '', severity);
    const page = pageColumn >= 0 ? yesNo(cells[pageColumn] ?? '') : undefined;
    found.push({
      severity,
      ...(label ? { label } : {}),
      responseMs,
      ...(page !== undefined ? { page } : {}),
      line,
    });
  }
  return found;
}

/** `Within 10 min: Notify stakeholders` → 10 min and its words. */
const MILESTONE_ITEM = /^\s*([^:]{1,40}?)\s*:\s*(.+)$/s;

function readMilestones(list: List, severity: SeverityName): RunbookMilestone[] {
  const found: RunbookMilestone[] = [];
  for (const item of list.children) {
    const first = item.children[0];
    if (first?.type !== 'paragraph') continue;
    const match = MILESTONE_ITEM.exec(blockText(first).replace(/\*\*|__/g, ''));
    if (!match) continue;
    const atMs = parseDurationPhrase(match[1]!);
    if (atMs === undefined) continue;
    found.push({
      severity,
      atMs,
      text: match[2]!.replace(/\s+/g, ' ').trim(),
      line: item.position?.start.line ?? 1,
    });
  }
  return found;
}

/** The runbook's severity table and milestones, or undefined when it has neither. */
export function readIncidentPolicy(
  preamble: RootContent[],
  headings: OutlineHeading[],
  warnings: LoaderWarning[],
): RunbookIncidentPolicy | undefined {
  const severities: RunbookSeverity[] = [];
  const milestones: RunbookMilestone[] = [];
  const blocks = [
    { heading: undefined, content: preamble },
    ...headings.map((h) => ({ heading: h, content: h.content })),
  ];
  for (const { heading, content } of blocks) {
    const headingSeverity = heading ? severityAtStart(heading.title) : undefined;
    for (const node of content) {
      if (node.type === 'table' && severities.length === 0) severities.push(...readTable(node, warnings));
      if (node.type === 'list' && headingSeverity) milestones.push(...readMilestones(node, headingSeverity));
    }
  }
  if (severities.length === 0 && milestones.length === 0) return undefined;
  milestones.sort((a, b) => a.atMs - b.atMs || a.line - b.line);
  return { severities, milestones };
}

/** A heading about one severity starts with it: "P0 (Critical) - Platform Down". */
function severityAtStart(title: string): SeverityName | undefined {
  const match = /^\s*P([0-3])\b/.exec(title);
  return match ? (`P${match[1]}` as SeverityName) : undefined;
}
