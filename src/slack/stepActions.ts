import type { KnownBlock, View } from '@slack/types';
import { z } from 'zod';
import { type Refusal, refusal } from '../answer.js';
import { appendAudited } from '../approvals/auditedChange.js';
import type { AuditLog } from '../audit/auditLog.js';
import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { ActionStep, Parameter } from '../runbooks/model.js';
import { type RawValues, validateValues } from '../runbooks/procedureParams.js';
import type { ProcedureRun, ProcedureRunStore } from '../store/procedureRuns.js';
import { utcMinute } from '../time.js';
import { ACTIONS } from './actionIds.js';
import { stepBlocks } from './views/procedureRun.js';

export const stepButtonSchema = z.object({ runId: z.uuid(), stepId: z.string().min(1).max(16) });

/** What the parameters modal carries between opening and submission. */
const modalMetadataSchema = stepButtonSchema.extend({ channel: z.string().min(1) });

export interface StepActionDeps {
  procedureRuns: ProcedureRunStore;
  queues: QueueBackend;
  audit: AuditLog;
}

export type PreviewOutcome =
  | { ok: true; kind: 'queued' }
  | { ok: true; kind: 'needs-parameters'; view: View }
  | Refusal;

/**
 * Preview pressed on an action: when every parameter it needs has a valid value the
 * preview is queued; otherwise a modal asks for the missing ones.
 */
export async function requestPreview(
  deps: StepActionDeps,
  button: z.infer<typeof stepButtonSchema>,
  user: string,
  clickId: string,
  channel: string,
): Promise<PreviewOutcome> {
  const found = await findAction(deps, button);
  if (!found.ok) return found;
  const { run, step } = found;
  // Blank counts as missing for every type (text accepts '' as a value, but not as an answer).
  const needed = step.statement.params.filter((param) => validateValues([param], run.params).length > 0);
  if (needed.length > 0)
    return { ok: true, kind: 'needs-parameters', view: parametersModal(run, step, needed, channel) };
  return queuePreview(deps, run, step, user, {}, clickId);
}

/** The modal's submission: field errors to show in the modal, or the preview queued. */
export async function submitParameters(
  deps: StepActionDeps,
  privateMetadata: string,
  values: RawValues,
  user: string,
  submissionId: string,
): Promise<{ errors: Record<string, string> } | PreviewOutcome> {
  const metadata = modalMetadataSchema.safeParse(safeJson(privateMetadata));
  if (!metadata.success) return refusal('That form is out of date; press Preview again.');
  const found = await findAction(deps, metadata.data);
  if (!found.ok) return found;
  // What the preview will bind: the run's values, then the modal's. A field left blank is an
  // error under that field, not a preview job that cannot bind its statement.
  const inputs = { ...found.run.params, ...values };
  const errors: Record<string, string> = {};
  for (const param of found.step.statement.params) {
    const [problem] = validateValues([param], inputs);
    if (problem) errors[param.name] = problem;
  }
  if (Object.keys(errors).length > 0) return { errors };
  return queuePreview(deps, found.run, found.step, user, values, submissionId);
}

async function findAction(
  deps: StepActionDeps,
  button: z.infer<typeof stepButtonSchema>,
): Promise<{ ok: true; run: ProcedureRun; step: ActionStep } | Refusal> {
  const run = await deps.procedureRuns.get(button.runId);
  const step = run?.procedure.steps.find((candidate) => candidate.id === button.stepId);
  if (!run || step?.kind !== 'action') return refusal('That step no longer exists; run the procedure again.');
  return { ok: true, run, step };
}

async function queuePreview(
  deps: StepActionDeps,
  run: ProcedureRun,
  step: ActionStep,
  user: string,
  values: RawValues,
  clickId: string,
): Promise<PreviewOutcome> {
  try {
    // One preview per click, however often Slack retries delivering it.
    await deps.queues.enqueue({
      name: JOBS.actionPreview,
      data: { runId: run.id, stepId: step.id, requestedBy: user, values },
      occasion: { click: clickId },
    });
    return { ok: true, kind: 'queued' };
  } catch {
    return refusal('The job queue is unavailable right now; press Preview again in a minute.');
  }
}

/** A modal with one input per missing parameter, each saying its type and an example. */
function parametersModal(run: ProcedureRun, step: ActionStep, needed: Parameter[], channel: string): View {
  return {
    type: 'modal',
    callback_id: ACTIONS.parametersModal,
    private_metadata: JSON.stringify({ runId: run.id, stepId: step.id, channel }),
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
            text: `${param.type}, e.g. ${param.example} (written ${param.placeholder} in the runbook)`.slice(
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

/** Reads the modal's state: one `value` input per block, the block id being the parameter name. */
export function modalValues(state: {
  values: Record<string, Record<string, { value?: string | null }>>;
}): RawValues {
  const values: RawValues = {};
  for (const [name, inputs] of Object.entries(state.values)) {
    const value = inputs.value?.value?.trim();
    if (value) values[name] = value;
  }
  return values;
}

/**
 * Done pressed on a manual step: the first click is recorded with its user and time and the
 * message shows it in place of the button; later clicks learn who was first.
 */
export async function markManualStepDone(
  deps: StepActionDeps,
  button: z.infer<typeof stepButtonSchema>,
  user: string,
): Promise<{ ok: true; blocks: KnownBlock[] } | Refusal> {
  const run = await deps.procedureRuns.get(button.runId);
  const position = run?.procedure.steps.findIndex((step) => step.id === button.stepId) ?? -1;
  const step = run?.procedure.steps[position];
  if (!run || step?.kind !== 'manual') return refusal('That step no longer exists.');
  const done = await deps.procedureRuns.markManualDone(run.id, step.id, user);
  if (!done) return refusal('That step could not be recorded; press Done again.');
  if (!done.recorded) return refusal(`Already done by <@${done.doneBy}> at ${utcMinute(done.doneAt)}.`);
  await appendAudited(deps, run, {
    kind: 'manual_step',
    actor: user,
    target: run.target,
    runId: run.id,
    data: { step: step.id, title: step.title },
  });
  const record = (await deps.procedureRuns.steps(run.id)).find((candidate) => candidate.stepId === step.id)!;
  return { ok: true, blocks: stepBlocks(run, step, record, position + 1) };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
