import type { KnownBlock } from '@slack/types';
import {
  connectionWaitText,
  fleetStatus,
  statusCounts,
  worstFindingsText,
  worstFirst,
} from '../../health/fleet.js';
import type { HealthReport, ReportStatus } from '../../health/types.js';
import { formatDuration } from '../../health/units.js';
import { clip, plural } from '../../text.js';
import { STATUS_EMOJI } from './healthReport.js';
import { escapeMrkdwn, packLines, section } from './mrkdwn.js';

/** One target of a fleet run: its report, or why it has none (the target was removed). */
export interface FleetEntry {
  target: string;
  report: HealthReport | null;
  error: string | null;
  /** Permalink of the target's report in the summary's thread, once posted. */
  link?: string;
}

/** headline + OK line + context */
const FIXED_BLOCKS = 3;

function statusOf(entry: FleetEntry): ReportStatus {
  // A run that could not start says nothing about the database: counted with the unreachable.
  return entry.report?.status ?? 'unreachable';
}

/**
 * The fleet's one message: a line per problem target, worst first, then the OK ones by name.
 * `pace`: how many the worker checked at once (fleetPaceText), when it said.
 */
export function fleetSummaryBlocks(
  label: string,
  entries: readonly FleetEntry[],
  options: { pace?: string } = {},
): KnownBlock[] {
  const rows = worstFirst(entries.map((entry) => ({ ...entry, status: statusOf(entry) })));
  const problems = rows.filter((row) => row.status !== 'ok');
  const ok = rows.filter((row) => row.status === 'ok');
  const blocks: KnownBlock[] = [section(`${summaryText(label, entries)}`)];
  const lines = problems.map((row) => {
    const detail = row.report
      ? worstFindingsText(row.report)
      : `could not run: ${row.error ?? 'unknown error'}`;
    const took = row.report ? ` · ${formatDuration(row.report.durationMs)}` : '';
    const link = row.link ? ` · <${row.link}|report>` : '';
    return `${STATUS_EMOJI[row.status]} *${escapeMrkdwn(row.target)}* ${escapeMrkdwn(clip(detail, 300))}${took}${link}`;
  });
  packLines(blocks, lines, FIXED_BLOCKS, (hidden) => plural(hidden, 'more problem target'));
  if (ok.length > 0)
    blocks.push(
      section(
        `${STATUS_EMOJI.ok} ${escapeMrkdwn(clip(`OK: ${ok.map((row) => row.target).join(', ')}`, 2000))}`,
      ),
    );
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: [
          problems.length > 0
            ? "Each problem target's full report is in this message's thread."
            : 'Every target is OK.',
          options.pace ? `Checked ${options.pace}.` : undefined,
          connectionWaitText(entries.flatMap((entry) => entry.report ?? [])),
        ]
          .filter(Boolean)
          .join(' '),
      },
    ],
  });
  return blocks;
}

/** The headline, also the message's notification text: `Health of tag:production: 1 critical, 2 ok`. */
export function summaryText(label: string, entries: readonly FleetEntry[]): string {
  const statuses = entries.map(statusOf);
  return `${STATUS_EMOJI[fleetStatus(statuses)]} *Health of ${escapeMrkdwn(label)}*: ${statusCounts(statuses)} (${plural(entries.length, 'target')})`;
}
