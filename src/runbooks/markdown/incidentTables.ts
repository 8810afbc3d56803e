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
 * - An escalation path: a numbered list under a heading that names one (`## Escalation
 *   Path`, `Escalation Levels`, `Escalation Chain`) whose every item is one line `Level N:
 *   who` (`**Level 2**: Contact on-call engineer`), levels 1, 2, 3… in order. The verb is
 *   left out of the name ("On-call engineer"); `(P0 only)` keeps a level for that severity.
 *   A list whose items are stages of work with their own steps (a nested list), or a
 *   "matrix" of which problems are which level, is not a path and is not read.
 */
import type { List, RootContent, Table } from 'mdast';
import { clip } from '../../text.js';
import { parseDurationPhrase } from '../../timeInput.js';
import type {
  LoaderWarning,
  RunbookEscalationLevel,
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

const ESCALATION_HEADING = /\bescalation\s+(?:path|levels?|chain)\b/i;
const LEVEL_ITEM = /^\s*level\s+(\d+)\s*[:.–—-]\s*(.+)$/is;
/** "(P0 only)", "(P0/P1 only)", "(P0 and P1 only)". */
const ONLY_FOR = /\s*\(\s*((?:P[0-3]\b[\s,/&]*(?:and\s+|or\s+)?)+)\s*only\s*\)/i;
/** The verb before whom a level names: "Contact on-call engineer", "Escalate to the lead". */
const LEVEL_VERB =
  /^(?:contact|call|page|notify|alert|inform|tell|involve|loop\s+in|escalate\s+to|hand\s+(?:over\s+)?to)\s+(?:the\s+)?/i;
const MAX_LEVEL_NAME = 80;

/** The levels of an escalation path list, or none when it is not one (see the header). */
function readEscalation(list: List): RunbookEscalationLevel[] {
  if (!list.ordered) return [];
  const levels: RunbookEscalationLevel[] = [];
  for (const item of list.children) {
    const [first, ...rest] = item.children;
    if (first?.type !== 'paragraph' || rest.length > 0) return [];
    const match = LEVEL_ITEM.exec(
      blockText(first)
        .replace(/\*\*|__/g, '')
        .replace(/\s+/g, ' '),
    );
    if (!match || Number(match[1]) !== levels.length + 1) return [];
    let words = match[2]!.trim();
    const only = ONLY_FOR.exec(words);
    if (only) words = words.replace(only[0], '').trim();
    const severities = only ? [...new Set(only[1]!.match(/P[0-3]/gi)!.map((s) => s.toUpperCase()))] : [];
    const named = words.replace(LEVEL_VERB, '').replace(/[.;]+$/, '');
    const name = named.charAt(0).toUpperCase() + named.slice(1);
    if (!name) return [];
    levels.push({
      name: clip(name, MAX_LEVEL_NAME),
      ...(severities.length > 0 ? { severities: severities as SeverityName[] } : {}),
      line: item.position?.start.line ?? 1,
    });
  }
  // One level is where an incident starts, not a path.
  return levels.length > 1 ? levels : [];
}

/** The runbook's severity table, milestones and escalation path, or undefined when it has none. */
export function readIncidentPolicy(
  preamble: RootContent[],
  headings: OutlineHeading[],
  warnings: LoaderWarning[],
): RunbookIncidentPolicy | undefined {
  const severities: RunbookSeverity[] = [];
  const milestones: RunbookMilestone[] = [];
  let escalation: RunbookEscalationLevel[] = [];
  const blocks = [
    { heading: undefined, content: preamble },
    ...headings.map((h) => ({ heading: h, content: h.content })),
  ];
  for (const { heading, content } of blocks) {
    const headingSeverity = heading ? severityAtStart(heading.title) : undefined;
    for (const node of content) {
      if (node.type === 'table' && severities.length === 0) severities.push(...readTable(node, warnings));
      if (node.type === 'list' && headingSeverity) milestones.push(...readMilestones(node, headingSeverity));
      if (
        node.type === 'list' &&
        escalation.length === 0 &&
        heading &&
        ESCALATION_HEADING.test(heading.title)
      )
        escalation = readEscalation(node);
    }
  }
  if (severities.length === 0 && milestones.length === 0 && escalation.length === 0) return undefined;
  milestones.sort((a, b) => a.atMs - b.atMs || a.line - b.line);
  return { severities, milestones, ...(escalation.length > 0 ? { escalation } : {}) };
}

/** A heading about one severity starts with it: "P0 (Critical) - Platform Down". */
function severityAtStart(title: string): SeverityName | undefined {
  const match = /^\s*P([0-3])\b/.exec(title);
  return match ? (`P${match[1]}` as SeverityName) : undefined;
}
