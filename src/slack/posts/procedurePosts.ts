import type { WebClient } from '@slack/web-api';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { ProcedureRunStore } from '../../store/procedureRuns.js';
import { plural } from '../../text.js';
import { blockViolations } from '../blockLimits.js';
import {
  procedureRootBlocks,
  procedureRootText,
  relatedFindingsBlocks,
  relatedFindingsText,
  rowsNotShown,
  stepBlocks,
  stepText,
} from '../views/procedureRun.js';
import { type PostOnceDeps, postOnce } from './postOnce.js';

export interface ProcedurePostDeps extends PostOnceDeps {
  procedureRuns: ProcedureRunStore;
  slack: WebClient;
}

/**
 * Posts a procedure run: the root message, then each step in order as a reply in its
 * thread. Every post is recorded as it lands, so a retry (after a 429 or a crash) goes on
 * where the last one stopped and the thread stays in order.
 */
export async function postProcedureRun(deps: ProcedurePostDeps, runId: string): Promise<void> {
  let run = await deps.procedureRuns.get(runId);
  if (!run) throw new JobCannotSucceed(`procedure run ${runId} does not exist`);
  const channel = run.channelId;
  if (!channel) return; // a terminal run: nowhere to post
  if (!run.rootTs) {
    const rootTs = await postOnce(deps, {
      key: `procedure-root:${run.id}`,
      channel,
      text: procedureRootText(run),
      blocks: procedureRootBlocks(run),
    });
    await deps.procedureRuns.markRootPosted(run.id, rootTs);
    run = (await deps.procedureRuns.get(runId))!;
  }
  const threadTs = run.rootTs ?? '';
  const records = await deps.procedureRuns.steps(run.id);
  for (const [position, step] of run.procedure.steps.entries()) {
    const record = records.find((candidate) => candidate.stepId === step.id);
    if (!record || record.postedTs) continue;
    const blocks = stepBlocks(run, step, record, position + 1);
    const problems = blockViolations(blocks);
    if (problems.length > 0)
      throw new JobCannotSucceed(`step ${step.id} blocks invalid: ${problems.join('; ')}`);
    const postedTs = await postOnce(deps, {
      key: `procedure-step:${run.id}:${step.id}`,
      channel,
      threadTs,
      text: stepText(step, position + 1),
      blocks,
    });
    if (rowsNotShown(record) > 0 && record.result) {
      // Before recording the post: a retry re-posts rather than silently lose the rows.
      await deps.slack.files.uploadV2({
        channel_id: channel,
        thread_ts: threadTs,
        filename: `step-${position + 1}-rows.csv`,
        content: toCsv(record.result.columns, record.result.rows),
        initial_comment: `All ${plural(record.result.rows.length, 'row')} kept of step ${position + 1} (${record.result.rowCount} returned)`,
      });
    }
    await deps.procedureRuns.markStepPosted(run.id, step.id, postedTs);
  }
  // After the author's results, what the bot's own related checks found (postOnce's record
  // of the key makes a retry of this job post it once).
  const related = run.relatedFindings ?? [];
  if (related.length > 0)
    await postOnce(deps, {
      key: `procedure-related:${run.id}`,
      channel,
      threadTs,
      text: relatedFindingsText(related),
      blocks: relatedFindingsBlocks(related),
    });
}

function toCsv(columns: string[], rows: string[][]): string {
  const cell = (value: string) => (/[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
  return [columns, ...rows].map((row) => row.map(cell).join(',')).join('\n');
}
