import type { WebClient } from '@slack/web-api';
import { worstFirst } from '../../health/fleet.js';
import type { FleetJob } from '../../jobs/catalog.js';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { Run, RunStore } from '../../store/runs.js';
import { blockViolations } from '../blockLimits.js';
import { type FleetEntry, fleetSummaryBlocks, summaryText } from '../views/fleetSummary.js';
import { healthReportPost } from './healthReportPost.js';
import { permalinkReader } from './permalinks.js';
import { type PostOnceDeps, postOnce } from './postOnce.js';

export interface FleetSummaryDeps extends PostOnceDeps {
  runs: RunStore;
  slack: WebClient;
}

/**
 * A fleet run's one message: the summary in the channel, then each problem target's report in
 * its thread (worst first), then the summary again with a link to each (when Slack gives
 * links: see permalinkReader). Every post goes
 * through postOnce under a key of its own and each report is recorded as posted, so a retry
 * after a crash anywhere in between posts only what is missing, and the summary is edited,
 * never posted twice. OK targets have no message of their own: they are named in the summary.
 */
export async function postFleetSummary(deps: FleetSummaryDeps, job: FleetJob): Promise<void> {
  const found = new Map((await deps.runs.getMany(job.runIds)).map((run) => [run.id, run]));
  const runs = job.runIds.flatMap((id) => found.get(id) ?? []);
  if (runs.length === 0) throw new JobCannotSucceed(`runs ${job.runIds.join(', ')} do not exist`);
  const entries = (links: Map<string, string>): FleetEntry[] =>
    runs.map((run) => ({
      target: run.target,
      report: run.report,
      error: run.error,
      ...(links.has(run.id) ? { link: links.get(run.id) } : {}),
    }));
  const message = (links: Map<string, string>) => {
    const blocks = fleetSummaryBlocks(job.label, entries(links), job.pace ? { pace: job.pace } : {});
    const problems = blockViolations(blocks);
    if (problems.length > 0)
      throw new JobCannotSucceed(`fleet summary blocks invalid: ${problems.join('; ')}`);
    return { text: summaryText(job.label, entries(links)), blocks };
  };
  const summaryTs = await postOnce(deps, {
    // The fleet's runs, in whatever order a job lists them, name one summary.
    key: `fleet-summary:${[...job.runIds].sort()[0]}`,
    channel: job.channel,
    ...message(new Map()),
  });
  const links = new Map<string, string>();
  const permalink = permalinkReader(deps.slack, deps.logger);
  // The thread reads as the summary does: worst first.
  const problems = worstFirst(
    runs
      .filter(isProblem)
      .map((run) => ({ run, target: run.target, status: run.report?.status ?? 'unreachable' })),
  );
  for (const { run } of problems) {
    const ts = run.postedTs ?? (await postOnce(deps, healthReportPost(run, job.channel, summaryTs)));
    if (!run.postedTs) await deps.runs.markPosted(run.id, ts);
    const link = await permalink(job.channel, ts);
    if (link) links.set(run.id, link);
  }
  // Without links (getPermalink refused) the summary stays as posted: it already says the
  // reports are in its thread.
  if (links.size > 0)
    await deps.slack.chat.update({ channel: job.channel, ts: summaryTs, ...message(links) });
  // Only now: a crash before this line leaves the fleet to the sweep, which queues this job
  // again and it posts what is missing.
  await deps.runs.markFleetPosted(job.runIds);
}

function isProblem(run: Run): boolean {
  return run.report?.status !== 'ok';
}
