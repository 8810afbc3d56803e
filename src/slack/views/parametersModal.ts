import type { KnownBlock, View } from '@slack/types';
import { z } from 'zod';
import type { ActionStep, Parameter } from '../../runbooks/model.js';
import type { ProcedureRun } from '../../store/procedureRuns.js';
import { ACTIONS } from '../actionIds.js';
import { stepButtonSchema } from './procedureRun.js';

/**
 * What the parameters modal carries between opening and submission: the step, and the
 * channel Preview was pressed in (the access policy is applied to it on submission).
 */
export const parametersModalMetadata = stepButtonSchema.extend({ channel: z.string().min(1) });

/** A modal with one input per missing parameter, each saying its type and an example. */
export function parametersModal(
  run: ProcedureRun,
  step: ActionStep,
  needed: Parameter[],
  channel: string,
): View {
  const metadata: z.infer<typeof parametersModalMetadata> = { runId: run.id, stepId: step.id, channel };
  return {
    type: 'modal',
    callback_id: ACTIONS.parametersModal,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: 'Parameters' },
    submit: { type: 'plain_text', text: 'Preview' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `*${step.title.slice(0, 200)}* needs these values before it can be previewed.`,
        },
      },
      ...needed.map(
        (param): KnownBlock => ({
          type: 'input',
          block_id: param.name,
          label: { type: 'plain_text', text: param.name.slice(0, 2000) },
          hint: {
            type: 'plain_text',
            text: `${typeLabel(param)}, e.g. ${param.example} (written ${param.placeholder} in the runbook)`.slice(
              0,
              2000,
            ),
          },
          element: {
            type: 'plain_text_input',
            action_id: 'value',
            placeholder: { type: 'plain_text', text: param.example.slice(0, 150) },
          },
        }),
      ),
    ],
  };
}

/** An identifier says what it names and that the target is asked; a value its type. */
function typeLabel(param: Parameter): string {
  if (!param.identifier) return param.type;
  return param.identifier.kind === 'name'
    ? 'a name'
    : `${param.identifier.kind} name, looked up on the target`;
}
