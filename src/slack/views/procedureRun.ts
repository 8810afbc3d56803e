import type { KnownBlock } from '@slack/types';
import { z } from 'zod';
import { formatDuration } from '../../health/units.js';
import {
  type ActionStep,
  type CheckStep,
  type ManualStep,
  type Parameter,
  type Step,
  statementParameters,
} from '../../runbooks/model.js';
import { waitingFor } from '../../runbooks/procedureParams.js';
import { type RelatedFinding, relatedFindingText } from '../../runbooks/relatedHealthChecks.js';
import type { ProcedureRun, StepRecord } from '../../store/procedureRuns.js';
import { SCHEDULER_REQUESTER } from '../../store/runs.js';
import { clip, plural } from '../../text.js';
import { utcMinute } from '../../time.js';
import { ACTIONS } from '../actionIds.js';
import { LIMITS } from '../blockLimits.js';
import { STATUS_EMOJI } from './healthReport.js';
import { codeFence, escapeMrkdwn, section } from './mrkdwn.js';
import { rowsBlocks, rowsNotShownOf } from './rowsTable.js';

const SQL_CHARS = 1500;

/** What a step button carries: enough to find the run and the step again. */
export const stepButtonSchema = z.object({ runId: z.uuid(), stepId: z.string().min(1).max(16) });

const RISK_EMOJI = { low: ':large_blue_circle:', medium: ':large_orange_circle:', high: ':red_circle:' };

/** The root message of a procedure run; its thread holds the steps. */
export function procedureRootBlocks(run: ProcedureRun): KnownBlock[] {
  const counts = { check: 0, action: 0, manual: 0 };
  for (const step of run.procedure.steps) counts[step.kind] += 1;
  const version = [
    `runbook ${run.runbookSha256.slice(0, 8)}`,
    run.runbookCommit ? `commit ${run.runbookCommit.slice(0, 8)}` : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  return [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: clip(`Runbook: ${run.procedure.title}`, LIMITS.headerText),
        emoji: true,
      },
    },
    section(
      `*${escapeMrkdwn(run.runbookTitle)}* on \`${run.target}\`, ${run.requestedBy === SCHEDULER_REQUESTER ? 'run on its schedule (posted because its results changed)' : `requested by <@${run.requestedBy}>`}. ` +
        `${plural(counts.check, 'check')} ${counts.check === 1 ? 'runs' : 'run'} now; ` +
        `${plural(counts.action, 'action')} ${counts.action === 1 ? 'needs' : 'need'} a preview and approval; ` +
        `${plural(counts.manual, 'manual step')} to tick off. The steps follow in this thread.`,
    ),
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `\`${escapeMrkdwn(run.procedure.id)}\` · ${version}` }],
    },
  ];
}

export function procedureRootText(run: ProcedureRun): string {
  return escapeMrkdwn(`Runbook: ${run.procedure.title} on ${run.target}`);
}

/** One step as a thread reply: a check with its result, an action to preview, a manual step to tick off. */
export function stepBlocks(
  run: ProcedureRun,
  step: Step,
  record: StepRecord,
  position: number,
): KnownBlock[] {
  const heading = `*${position}. ${escapeMrkdwn(step.title)}*${step.section ? ` · ${escapeMrkdwn(step.section)}` : ''}`;
  const value = JSON.stringify({ runId: run.id, stepId: step.id } satisfies z.infer<typeof stepButtonSchema>);
  if (step.kind === 'check') {
    const verdict = record.result?.verdict;
    const mark = verdict ? ` · ${verdict.met ? ':large_green_circle: met' : ':red_circle: not met'}` : '';
    return [
      section(`:mag: ${heading} · check${mark}`),
      section(codeFence(step.statement.text, SQL_CHARS)),
      ...resultBlocks(record, waitingFor(step, run.procedure.steps, run.params)),
      ...verdictBlocks(step, record),
    ];
  }
  if (step.kind === 'action') return actionBlocks(step, heading, value);
  return manualBlocks(step, heading, value, record);
}

export function stepText(step: Step, position: number): string {
  return `${position}. ${escapeMrkdwn(step.title)} (${step.kind})`;
}

/**
 * What the bot's own checks related to the procedure found on the run's target, after the
 * author's steps: one line each, the procedure to run about it when it is not ok.
 */
export function relatedFindingsBlocks(findings: RelatedFinding[]): KnownBlock[] {
  return findings.map((parts) => {
    const next = parts.next ? ` → \`${escapeMrkdwn(parts.next)}\`` : '';
    return section(
      `${STATUS_EMOJI[parts.status]} The bot's own check \`${parts.check}\` on \`${escapeMrkdwn(parts.target)}\`: *${parts.status}* — ${escapeMrkdwn(parts.summary)}${next}`,
    );
  });
}

export function relatedFindingsText(findings: RelatedFinding[]): string {
  return clip(escapeMrkdwn(findings.map(relatedFindingText).join('\n')), LIMITS.sectionText);
}

function resultBlocks(record: StepRecord, waiting: Parameter[]): KnownBlock[] {
  const result = record.result;
  if (!result && waiting.length > 0)
    return [
      section(
        `:hourglass_flowing_sand: Runs with the fix, before and after it, once its Preview has ${waiting.map((param) => `\`${param.name}\``).join(', ')}: the results are on the fix's card.`,
      ),
    ];
  if (!result) return [section('_Not run._')];
  if (result.status === 'error') return [section(`:warning: ${escapeMrkdwn(result.error ?? 'failed')}`)];
  // With an expectation the verdict says whether no rows is good news; without, it usually is.
  if (result.rowCount === 0)
    return [
      section(
        `${result.verdict ? '' : ':white_check_mark: '}No rows (${formatDuration(result.durationMs)}).`,
      ),
    ];
  return rowsBlocks(result, 'the rows are in the attached file');
}

/** What the check was expected to return, and whether it did: the step's green or red mark. */
function verdictBlocks(step: CheckStep, record: StepRecord): KnownBlock[] {
  const verdict = record.result?.verdict;
  if (!verdict) return [];
  const said =
    step.expect?.from === 'prose' && step.expect.said ? ` (the runbook says "${step.expect.said}")` : '';
  const line = verdict.met
    ? `:large_green_circle: Expected ${verdict.expected}: met (${verdict.got}).`
    : `:red_circle: Expected ${verdict.expected}, got ${verdict.got}.`;
  return [section(clip(escapeMrkdwn(line) + escapeMrkdwn(said), LIMITS.sectionText))];
}

/** Rows a check returned beyond what its message shows; they go in a file. */
export function rowsNotShown(record: StepRecord): number {
  const result = record.result;
  return result?.status === 'ok' ? rowsNotShownOf(result) : 0;
}

function actionBlocks(step: ActionStep, heading: string, value: string): KnownBlock[] {
  const notes = [
    `${RISK_EMOJI[step.risk]} risk *${step.risk}*${step.riskReasons.length ? ` (${escapeMrkdwn(step.riskReasons.join('; '))})` : ''}`,
    step.noTransaction ? 'cannot run inside a transaction' : undefined,
    statementParameters(step.statement).length > 0
      ? `parameters: ${statementParameters(step.statement).map(paramLabel).join(', ')}`
      : undefined,
  ].filter(Boolean);
  // The target's catalog showed it can act (readSafety.ts): say why it was not run as a check.
  const notChecked = step.actionReasons.filter(
    (reason) => reason.startsWith('not run as a check') || reason.startsWith('on this target:'),
  );
  return [
    section(`:hammer_and_wrench: ${heading} · action`),
    ...(notChecked.length > 0
      ? [section(clip(`:warning: ${escapeMrkdwn(notChecked.join('; '))}`, LIMITS.sectionText))]
      : []),
    section(codeFence(step.statement.text, SQL_CHARS)),
    { type: 'context', elements: [{ type: 'mrkdwn', text: clip(notes.join(' · '), LIMITS.sectionText) }] },
    {
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.stepPreview,
          text: { type: 'plain_text', text: 'Preview' },
          value,
        },
      ],
    },
  ];
}

function manualBlocks(step: ManualStep, heading: string, value: string, record: StepRecord): KnownBlock[] {
  const blocks: KnownBlock[] = [section(`:ballot_box_with_check: ${heading} · manual`)];
  if (step.text && step.text !== step.title) blocks.push(section(escapeMrkdwn(step.text)));
  if (step.code) blocks.push(section(codeFence(step.code.text)));
  blocks.push(
    record.doneBy
      ? doneContext(record.doneBy, record.doneAt ?? new Date())
      : {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: ACTIONS.manualDone,
              text: { type: 'plain_text', text: 'Done' },
              style: 'primary',
              value,
            },
          ],
        },
  );
  return blocks;
}

/** Replaces a manual step's Done button once someone ticked it off. */
function doneContext(userId: string, at: Date): KnownBlock {
  return {
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `:white_check_mark: Done by <@${userId}> at ${utcMinute(at)}`,
      },
    ],
  };
}

function paramLabel(param: Parameter): string {
  return `\`${param.name}\` (${param.type})`;
}
