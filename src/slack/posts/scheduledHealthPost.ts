import type { WebClient } from '@slack/web-api';
import type { HealthReport } from '../../health/types.js';
import type { ScheduledHealthPostJob, StatusChange } from '../../jobs/catalog.js';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { RunStore } from '../../store/runs.js';
import { blockViolations } from '../blockLimits.js';
import { healthReportBlocks, healthReportText } from '../views/healthReport.js';
import { escapeMrkdwn } from '../views/mrkdwn.js';
import { type PostOnceDeps, postOnce } from './postOnce.js';

export interface ScheduledHealthPostDeps extends PostOnceDeps {
  slack: WebClient;
  runs: RunStore;
}

/**
 * Posts a scheduled health report (`scheduled-health-report` on the notifications queue):
 * the usual report view with a "Scheduled check" line saying what changed, and a "Declare
 * incident" button when something is critical; or the all clear. The run records the
 * message, so a retried job never posts twice.
 */
export async function postScheduledHealth(
  deps: ScheduledHealthPostDeps,
  job: ScheduledHealthPostJob,
): Promise<void> {
  const run = await deps.runs.get(job.runId);
  if (!run) throw new JobCannotSucceed(`run ${job.runId} does not exist`);
  if (run.postedTs) return;
  if (!run.report) throw new JobCannotSucceed(`run ${job.runId} has no report to post`);
  const report = run.report;
  const blocks = healthReportBlocks(
    report,
    { runId: run.id },
    { note: scheduledNote(job), declareIncident: job.kind === 'problem' },
  );
  const problems = blockViolations(blocks);
  if (problems.length > 0) throw new JobCannotSucceed(`report blocks invalid: ${problems.join('; ')}`);
  const ts = await postOnce(deps, {
    key: `scheduled-health:${run.id}`,
    channel: job.channel,
    text: scheduledText(job, report),
    blocks,
  });
  await deps.runs.markPosted(run.id, ts);
}

/** Plain-text fallback (notifications). */
export function scheduledText(job: ScheduledHealthPostJob, report: HealthReport): string {
  if (job.kind === 'all-clear')
    return `All clear: the scheduled health check of ${escapeMrkdwn(report.target)} is OK again`;
  const prefix = job.reason === 'reminder' ? 'Scheduled check (reminder)' : 'Scheduled check';
  return `${prefix}: ${healthReportText(report)}`;
}

/** The context line under the header: scheduled, and what changed since the last scheduled run. */
export function scheduledNote(job: ScheduledHealthPostJob): string {
  const since = job.problemSince ? slackDate(job.problemSince) : undefined;
  const changes = changeList(job.changes, job.moreChanges);
  if (job.kind === 'all-clear') {
    const cleared = changes ? `: ${changes}` : '';
    return `:white_check_mark: *Scheduled check* · all clear${since ? ` (not ok since ${since})` : ''}${cleared}`;
  }
  switch (job.reason) {
    case 'reminder':
      return `:alarm_clock: *Scheduled check* · daily reminder: not ok since ${since ?? 'the last post'}, unchanged since then`;
    case 'changed':
      return `:alarm_clock: *Scheduled check* · changed since the last scheduled run: ${changes}`;
    default:
      return ':alarm_clock: *Scheduled check*';
  }
}

export function changeList(changes: StatusChange[], more: number): string {
  const items = changes.map((change) => {
    const title = `*${escapeMrkdwn(change.title)}*`;
    return change.from === null ? `new ${title} (${change.to})` : `${title} ${change.from} → ${change.to}`;
  });
  if (more > 0) items.push(`and ${more} more`);
  return items.join('; ');
}

/** A date every reader sees in their own time zone, with the ISO time as fallback. */
function slackDate(iso: string): string {
  const seconds = Math.floor(new Date(iso).getTime() / 1000);
  return Number.isFinite(seconds) ? `<!date^${seconds}^{date_short_pretty} {time}|${iso}>` : iso;
}
