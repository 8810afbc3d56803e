import type { KnownBlock } from '@slack/types';
import { fleetStatus, statusCounts, worstFirst } from '../../health/fleet.js';
import type { HealthReport, ReportStatus } from '../../health/types.js';
import type { ScheduledHealthPostJob } from '../../jobs/catalog.js';
import { clip, plural } from '../../text.js';
import { STATUS_EMOJI } from './healthReport.js';
import { escapeMrkdwn, packLines, section } from './mrkdwn.js';

/** One target of a scheduled digest: why it is posted, its report, and a link once posted. */
export interface DigestEntry {
  item: ScheduledHealthPostJob;
  report: HealthReport;
  /** Permalink of the target's report in the digest's thread. */
  link?: string;
  /** What changed, as the target's own post says it (see scheduledHealthPost.ts). */
  changes: string;
}

/** headline + context */
const FIXED_BLOCKS = 2;

/**
 * A scheduled fire's one message for a channel: a line per target that changed (worst first:
 * new and persisting problems, then the all clears), each linking to its full report in the
 * thread. Targets whose status did not change are not in it.
 */
export function scheduledDigestBlocks(entries: readonly DigestEntry[]): KnownBlock[] {
  const rows = worstFirst(
    entries.map((entry) => ({ ...entry, target: entry.report.target, status: entry.report.status })),
  );
  const blocks: KnownBlock[] = [section(digestText(entries))];
  packLines(
    blocks,
    rows.map((row) => {
      const link = row.link ? ` · <${row.link}|report>` : '';
      return `${lineEmoji(row.item, row.status)} *${escapeMrkdwn(row.target)}* ${clip(row.changes, 600)}${link}`;
    }),
    FIXED_BLOCKS,
    (hidden) => plural(hidden, 'more target'),
  );
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: "Scheduled check: only targets whose status changed are listed; each one's report is in this message's thread.",
      },
    ],
  });
  return blocks;
}

/** The headline, also the notification text: `Scheduled check: 3 targets changed (1 critical, 2 ok)`. */
export function digestText(entries: readonly DigestEntry[]): string {
  const statuses: ReportStatus[] = entries.map((entry) => entry.report.status);
  return `${STATUS_EMOJI[fleetStatus(statuses)]} *Scheduled check*: ${plural(entries.length, 'target')} changed (${statusCounts(statuses)})`;
}

function lineEmoji(item: ScheduledHealthPostJob, status: ReportStatus): string {
  return item.kind === 'all-clear' ? ':white_check_mark:' : STATUS_EMOJI[status];
}
