import type { WebClient } from '@slack/web-api';
import type { ScheduledHealthDigestJob } from '../../jobs/catalog.js';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { RunStore } from '../../store/runs.js';
import { blockViolations } from '../blockLimits.js';
import { healthReportBlocks } from '../views/healthReport.js';
import { type DigestEntry, digestText, scheduledDigestBlocks } from '../views/scheduledDigest.js';
import { permalinkReader } from './permalinks.js';
import { type PostOnceDeps, postOnce } from './postOnce.js';
import { changeList, scheduledNote, scheduledText } from './scheduledHealthPost.js';

export interface ScheduledDigestDeps extends PostOnceDeps {
  slack: WebClient;
  runs: RunStore;
}

/**
 * A scheduled fire's one message for a channel when several targets changed: the digest in
 * the channel, each target's scheduled report (with what changed and, for a critical one,
 * Declare incident) in its thread, then the digest edited to link each line to its report.
 * Every post goes through postOnce under its own key and each run is recorded as posted, so a
 * retry after a crash anywhere posts only what is missing.
 */
export async function postScheduledDigest(
  deps: ScheduledDigestDeps,
  job: ScheduledHealthDigestJob,
): Promise<void> {
  const found = new Map(
    (await deps.runs.getMany(job.items.map((item) => item.runId))).map((run) => [run.id, run]),
  );
  const posts = job.items.flatMap((item) => {
    const run = found.get(item.runId);
    return run?.report ? [{ item, run, report: run.report }] : [];
  });
  if (posts.length === 0)
    throw new JobCannotSucceed(`runs ${job.items.map((item) => item.runId).join(', ')} have no reports`);
  const message = (links: Map<string, string>) => {
    const entries: DigestEntry[] = posts.map(({ item, run, report }) => ({
      item,
      report,
      changes: digestChanges(item),
      ...(links.has(run.id) ? { link: links.get(run.id) } : {}),
    }));
    const blocks = scheduledDigestBlocks(entries);
    const problems = blockViolations(blocks);
    if (problems.length > 0) throw new JobCannotSucceed(`digest blocks invalid: ${problems.join('; ')}`);
    return { text: digestText(entries), blocks };
  };
  const digestTs = await postOnce(deps, {
    key: `scheduled-digest:${job.items[0]!.runId}`,
    channel: job.channel,
    ...message(new Map()),
  });
  const links = new Map<string, string>();
  const permalink = permalinkReader(deps.slack, deps.logger);
  for (const { item, run, report } of posts) {
    let ts = run.postedTs;
    if (!ts) {
      const blocks = healthReportBlocks(
        report,
        { runId: run.id },
        { note: scheduledNote(item), declareIncident: item.kind === 'problem' },
      );
      const problems = blockViolations(blocks);
      if (problems.length > 0) throw new JobCannotSucceed(`report blocks invalid: ${problems.join('; ')}`);
      ts = await postOnce(deps, {
        key: `scheduled-health:${run.id}`,
        channel: job.channel,
        threadTs: digestTs,
        text: scheduledText(item, report),
        blocks,
      });
      await deps.runs.markPosted(run.id, ts);
    }
    const link = await permalink(job.channel, ts);
    if (link) links.set(run.id, link);
  }
  if (links.size > 0) await deps.slack.chat.update({ channel: job.channel, ts: digestTs, ...message(links) });
}

/** What a digest line says after the target's name. */
function digestChanges(item: DigestEntry['item']): string {
  const changes = changeList(item.changes, item.moreChanges);
  if (item.kind === 'all-clear') return `all clear${changes ? `: ${changes}` : ''}`;
  switch (item.reason) {
    case 'reminder':
      return 'still not ok (daily reminder)';
    case 'unannounced':
      return changes || 'not ok';
    default:
      return changes;
  }
}
