import { JobCannotSucceed } from '../../jobs/processors.js';
import type { Run } from '../../store/runs.js';
import { blockViolations } from '../blockLimits.js';
import { healthReportBlocks, healthReportText } from '../views/healthReport.js';
import { escapeMrkdwn } from '../views/mrkdwn.js';
import type { SlackPost } from './postOnce.js';

/** A run's report as a post, in `channel` (and a thread, for a fleet's); posted once per run. */
export function healthReportPost(run: Run, channel: string, threadTs?: string): SlackPost {
  const blocks = run.report ? healthReportBlocks(run.report, { runId: run.id }) : undefined;
  const text = run.report
    ? healthReportText(run.report)
    : escapeMrkdwn(`Health check of ${run.target} could not run: ${run.error ?? 'unknown error'}`);
  const problems = blocks ? blockViolations(blocks) : [];
  if (problems.length > 0) throw new JobCannotSucceed(`report blocks invalid: ${problems.join('; ')}`);
  return { key: `health-report:${run.id}`, channel, ...(threadTs ? { threadTs } : {}), text, blocks };
}
