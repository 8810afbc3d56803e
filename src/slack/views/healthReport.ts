import type { KnownBlock } from '@slack/types';
import { findingProcedureRuns } from '../../health/findingProcedures.js';
import type { CheckStatus, EvidenceRow, Finding, HealthReport, ReportStatus } from '../../health/types.js';
import { formatDuration } from '../../health/units.js';
import { cellText } from '../../targets/cellText.js';
import { clip, plural } from '../../text.js';
import { ACTIONS } from '../actionIds.js';
import { LIMITS } from '../blockLimits.js';
import { escapeMrkdwn, section } from './mrkdwn.js';

export const STATUS_EMOJI: Record<CheckStatus | ReportStatus, string> = {
  ok: ':large_green_circle:',
  warn: ':large_yellow_circle:',
  critical: ':red_circle:',
  error: ':warning:',
  skipped: ':white_circle:',
  unreachable: ':red_circle:',
};
const SEVERITY: Record<CheckStatus, number> = { critical: 0, error: 1, warn: 2, skipped: 3, ok: 4 };
/** A finding's line in the channel: past this its summary is cut (the whole one is in Details). */
const LINE_CHARS = 400;
/** header + context + actions + the "more findings" note */
const FIXED_BLOCKS = 4;

export interface HealthReportRef {
  /** The stored run, so buttons can find it again. */
  runId: string;
}

/** Optional additions, e.g. for scheduled checks. */
export interface HealthReportExtras {
  /** A context line under the header, in mrkdwn (e.g. "Scheduled check · what changed"). */
  note?: string;
  /** Adds a "Declare incident" button when the report is critical or the target unreachable. */
  declareIncident?: boolean;
}

/** Incident titles are at most 200 characters (see declareButtonSchema). */
const INCIDENT_TITLE_MAX = 200;

/**
 * The "Declare incident" button's value for a critical (or unreachable) report: a P1 named
 * after the target and its first critical finding; undefined when nothing is critical.
 */
function declareIncidentValue(report: HealthReport): string | undefined {
  const critical = report.findings.find((finding) => finding.status === 'critical');
  const what =
    report.status === 'unreachable'
      ? 'unreachable'
      : report.status === 'critical'
        ? critical?.title
        : undefined;
  if (!what) return undefined;
  const title = clip(`${report.target}: ${what}`, INCIDENT_TITLE_MAX);
  return JSON.stringify({ severity: 'P1', title, target: report.target });
}

/**
 * The channel message for a health report, read at a glance: header with the overall status,
 * one line per finding that needs a look, worst first (what it found, the procedure that
 * fixes it, a Details button), a context line, Re-run. The evidence and the next step in
 * words go to the thread on Details (see healthFindingDetail). Fits Block Kit's limits by
 * construction; findings that do not fit are named.
 */
export function healthReportBlocks(
  report: HealthReport,
  ref: HealthReportRef,
  extras: HealthReportExtras = {},
): KnownBlock[] {
  const blocks: KnownBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: clip(`Health of ${report.target}: ${report.status.toUpperCase()}`, LIMITS.headerText),
        emoji: true,
      },
    },
  ];
  if (extras.note) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: clip(extras.note, LIMITS.sectionText) }],
    });
  }
  if (report.unreachable) {
    blocks.push(section(`${STATUS_EMOJI.unreachable} *Unreachable:* ${escapeMrkdwn(report.unreachable)}`));
  }
  const problems = report.findings
    .filter(
      (finding) => finding.status === 'critical' || finding.status === 'error' || finding.status === 'warn',
    )
    .sort((a, b) => SEVERITY[a.status] - SEVERITY[b.status]);
  const room = LIMITS.blocksPerMessage - FIXED_BLOCKS - blocks.length;
  const shown = problems.slice(0, room);
  for (const finding of shown) blocks.push(findingSection(finding, ref));
  const hidden = problems.slice(shown.length);
  if (hidden.length > 0) {
    blocks.push(
      section(
        `…and ${hidden.length} more: ${hidden.map((f) => `\`${f.id}\``).join(', ')} (details in the thread)`,
      ),
    );
  }
  blocks.push({
    type: 'context',
    elements: [
      { type: 'mrkdwn', text: contextLine(report) },
      // In the same block: a report's block budget is spent on findings.
      ...(report.roleWarning
        ? [
            {
              type: 'mrkdwn' as const,
              text: clip(`:warning: ${escapeMrkdwn(report.roleWarning)}`, LIMITS.sectionText),
            },
          ]
        : []),
    ],
  });
  const declare = extras.declareIncident ? declareIncidentValue(report) : undefined;
  blocks.push({
    type: 'actions',
    elements: [
      {
        type: 'button',
        action_id: ACTIONS.healthRerun,
        text: { type: 'plain_text', text: 'Re-run' },
        value: JSON.stringify({ target: report.target }),
      },
      ...(declare
        ? [
            {
              type: 'button' as const,
              action_id: ACTIONS.declareIncident,
              style: 'danger' as const,
              text: { type: 'plain_text' as const, text: 'Declare incident' },
              value: declare,
            },
          ]
        : []),
    ],
  });
  return blocks;
}

/** Plain-text fallback for notifications and clients without blocks. */
export function healthReportText(report: HealthReport): string {
  const target = escapeMrkdwn(report.target);
  if (report.unreachable) return `Health of ${target}: unreachable: ${escapeMrkdwn(report.unreachable)}`;
  const problems = report.findings.filter((f) => f.status === 'critical' || f.status === 'warn').length;
  return `Health of ${target}: ${report.status.toUpperCase()} (${plural(problems, 'finding')} ${problems === 1 ? 'needs' : 'need'} a look)`;
}

function findingSection(finding: Finding, ref: HealthReportRef): KnownBlock {
  const runs = findingProcedureRuns(finding);
  const more = runs.length > 1 ? ` (and ${runs.length - 1} more in Details)` : '';
  const fix = runs[0] ? `\n:arrow_right: \`/runbook run ${escapeMrkdwn(runs[0])}\`${more}` : '';
  const line = `${STATUS_EMOJI[finding.status]} *${escapeMrkdwn(finding.title)}*: ${escapeMrkdwn(clip(finding.summary, LINE_CHARS))}`;
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: clip(`${line}${fix}`, LIMITS.sectionText) },
    accessory: {
      type: 'button',
      action_id: ACTIONS.healthDetails,
      text: { type: 'plain_text', text: 'Details' },
      value: JSON.stringify({ runId: ref.runId, check: finding.id }),
    },
  };
}

/**
 * Every evidence row of one finding for the thread, one `column: value` record per row,
 * packed into as many sections as the message allows. `omittedRows` counts the rows that
 * did not fit, so the caller attaches them as a file instead of dropping them.
 */
export function healthFindingDetail(finding: Finding): { blocks: KnownBlock[]; omittedRows: number } {
  const runs = findingProcedureRuns(finding).map((run) => `\n\`/runbook run ${escapeMrkdwn(run)}\``);
  const next = finding.remediation
    ? `\n:arrow_right: ${escapeMrkdwn(finding.remediation.text)}${runs.join('')}`
    : '';
  const head = `${STATUS_EMOJI[finding.status]} *${escapeMrkdwn(finding.title)}* \`${finding.id}\`: ${escapeMrkdwn(finding.summary)}`;
  const blocks: KnownBlock[] = [section(clip(`${head}${next}`, LIMITS.sectionText))];
  const room = LIMITS.blocksPerMessage - 1; // the closing note
  const fence = (text: string) => `\`\`\`${text}\`\`\``;
  let chunk = '';
  let chunkRows = 0;
  let placed = 0;
  const flush = () => {
    blocks.push(section(fence(chunk)));
    placed += chunkRows;
    chunk = '';
    chunkRows = 0;
  };
  for (const row of finding.evidence) {
    const record = clip(recordText(row), LIMITS.sectionText - 6);
    if (chunk && fence(`${chunk}\n\n${record}`).length > LIMITS.sectionText) {
      if (blocks.length >= room) break;
      flush();
    }
    chunk = chunk ? `${chunk}\n\n${record}` : record;
    chunkRows += 1;
  }
  if (chunk && blocks.length < room) flush();
  const omittedRows = finding.evidence.length - placed;
  const notes = [
    omittedRows > 0
      ? `${plural(omittedRows, 'more row')} ${omittedRows === 1 ? 'is' : 'are'} in the attached file.`
      : '',
    finding.evidenceTotal > finding.evidence.length
      ? `${finding.evidence.length} of ${finding.evidenceTotal} rows were kept for this run.`
      : '',
  ].filter(Boolean);
  if (notes.length > 0) blocks.push(section(`_${notes.join(' ')}_`));
  return { blocks, omittedRows };
}

function recordText(row: EvidenceRow): string {
  const text = Object.entries(row)
    .map(([key, value]) => `${key}: ${cellText(value, Number.POSITIVE_INFINITY, '')}`)
    .join('\n');
  // Evidence is data (query texts with < and &): escaped like any text, fences defused.
  return escapeMrkdwn(text).replaceAll('```', '` ` `');
}

function contextLine(report: HealthReport): string {
  const count = (status: CheckStatus) => report.findings.filter((f) => f.status === status).length;
  const version = report.serverVersion ? ` · PostgreSQL ${report.serverVersion}` : '';
  // A wait for the worker's connection budget is said apart: it is not the target being slow.
  const waited = report.connectionWaitMs
    ? ` · waited ${formatDuration(report.connectionWaitMs)} for a connection slot`
    : '';
  return `${count('ok')} ok · ${count('skipped')} skipped · ${formatDuration(report.durationMs)}${waited} · target \`${report.target}\`${version}`;
}
