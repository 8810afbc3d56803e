import type { KnownBlock, PlainTextOption, View } from '@slack/types';
import { z } from 'zod';
import type { ActionStep, Parameter } from '../../runbooks/model.js';
import type { ParameterChoices } from '../../runbooks/parameterChoices.js';
import type { RawValues } from '../../runbooks/procedureParams.js';
import type { ProcedureRun } from '../../store/procedureRuns.js';
import { clip } from '../../text.js';
import { ACTIONS } from '../actionIds.js';
import { stepButtonSchema } from './procedureRun.js';

/**
 * What the parameters modal carries between opening and submission: the step, and the
 * channel Preview was pressed in (the access policy is applied to it on submission).
 */
export const parametersModalMetadata = stepButtonSchema.extend({ channel: z.string().min(1) });

/** Slack's static_select: at most 100 options, 75 characters of text and 150 of value each. */
const SELECT = { options: 100, text: 75, value: 150 } as const;
/** The block of the typed value beside a choice; parameter names have no dots, so no clash. */
const TYPED = '.typed';

/**
 * A modal with one input per missing parameter, each saying its type and an example. Where
 * the run's earlier checks returned values for it, they are offered in a menu (a row's other
 * cells tell them apart) beside a field to type one.
 */
export function parametersModal(
  run: ProcedureRun,
  step: ActionStep,
  needed: Parameter[],
  channel: string,
  choices: Record<string, ParameterChoices> = {},
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
      ...needed.flatMap((param) => {
        const offered = choices[param.name];
        return offered ? choiceInputs(param, offered) : [typedInput(param, param.name, param.name, false)];
      }),
    ],
  };
}

function typedInput(param: Parameter, blockId: string, label: string, optional: boolean): KnownBlock {
  return {
    type: 'input',
    block_id: blockId,
    label: { type: 'plain_text', text: label.slice(0, 2000) },
    ...(optional ? { optional: true } : {}),
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
  };
}

/** A menu of the values the checks returned, and a field for one they did not. Both optional: either will do. */
function choiceInputs(param: Parameter, offered: ParameterChoices): KnownBlock[] {
  const usable = offered.choices.filter((choice) => choice.value.length <= SELECT.value);
  const options = usable.slice(0, SELECT.options).map(
    (choice): PlainTextOption => ({
      text: {
        type: 'plain_text',
        text: clip([choice.value, ...choice.others].join(' · ').replace(/\s+/g, ' '), SELECT.text),
      },
      value: choice.value,
    }),
  );
  if (options.length === 0) return [typedInput(param, param.name, param.name, false)];
  const from = offered.sources
    .map((source) => `step ${source.number} (${source.title}): ${source.columns.join(' · ')}`)
    .join('; ');
  const cut =
    usable.length > options.length ? ` The first ${options.length} of ${usable.length} are listed.` : '';
  return [
    {
      type: 'input',
      block_id: param.name,
      // Slack marks both inputs "(optional)": the label says that one of the two is needed.
      label: { type: 'plain_text', text: `${param.name}: choose one here or type one below`.slice(0, 2000) },
      optional: true,
      hint: { type: 'plain_text', text: `Values from ${from}.${cut}`.slice(0, 2000) },
      element: {
        type: 'static_select',
        action_id: 'pick',
        placeholder: { type: 'plain_text', text: clip(`Choose a ${param.name}`, 150) },
        options,
      },
    },
    typedInput(param, `${param.name}${TYPED}`, `…or type a ${param.name}`, true),
  ];
}

/** An identifier says what it names and that the target is asked; a value its type. */
function typeLabel(param: Parameter): string {
  if (!param.identifier) return param.type;
  return param.identifier.kind === 'name'
    ? 'a name'
    : `${param.identifier.kind} name, looked up on the target`;
}

/** What Slack sends back for one input: a typed value, or the option chosen in a menu. */
export interface ModalInputState {
  value?: string | null;
  selected_option?: { value?: string } | null;
}

/**
 * The submitted values by parameter name: the option chosen or the value typed. Both given
 * and different is a problem under the parameter (which one was meant cannot be guessed).
 */
export function parametersModalValues(state: { values: Record<string, Record<string, ModalInputState>> }): {
  values: RawValues;
  problems: Record<string, string>;
} {
  const chosen: RawValues = {};
  const typed: RawValues = {};
  for (const [blockId, inputs] of Object.entries(state.values)) {
    const value = (inputs.value?.value ?? inputs.pick?.selected_option?.value)?.trim();
    if (!value) continue;
    if (blockId.endsWith(TYPED)) typed[blockId.slice(0, -TYPED.length)] = value;
    else chosen[blockId] = value;
  }
  const problems: Record<string, string> = {};
  for (const [name, value] of Object.entries(typed)) {
    const picked = chosen[name];
    if (picked !== undefined && picked !== value)
      problems[name] = `Choose a ${name} or type one, not both (chose ${picked}, typed ${value}).`;
  }
  return { values: { ...chosen, ...typed }, problems };
}
