import { type Refusal, refusal } from '../answer.js';
import type { AuditLog } from '../audit/auditLog.js';
import { appendAudited } from '../audit/outbox.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { ProcedureRun, ProcedureRunStore, StepRecord } from '../store/procedureRuns.js';
import { utcMinute } from '../time.js';
import type { ManualStep } from './model.js';
import type { StepRef } from './previewStep.js';

export interface ManualStepDeps {
  procedureRuns: ProcedureRunStore;
  queues: QueueBackend;
  audit: AuditLog;
}

/** The step as now recorded, for the transport to show in place of its button. */
export interface ManualStepRecorded {
  ok: true;
  run: ProcedureRun;
  step: ManualStep;
  record: StepRecord;
  /** 1-based, as the step is numbered on screen. */
  number: number;
}

/** Why a second Done changes nothing; `who` as the medium names people (a Slack mention, say). */
export function alreadyDoneText(who: string, at: Date): string {
  return `Already done by ${who} at ${utcMinute(at)}.`;
}

/**
 * A person marks a manual step done: the first one is recorded with their id and the time
 * (and audited); anyone after learns who was first.
 */
export async function markManualStepDone(
  deps: ManualStepDeps,
  ref: StepRef,
  user: string,
): Promise<ManualStepRecorded | (Refusal & { doneBy?: string; doneAt?: Date })> {
  const run = await deps.procedureRuns.get(ref.runId);
  const position = run?.procedure.steps.findIndex((step) => step.id === ref.stepId) ?? -1;
  const step = run?.procedure.steps[position];
  if (!run || step?.kind !== 'manual') return refusal('That step no longer exists.');
  const done = await deps.procedureRuns.markManualDone(run.id, step.id, user);
  if (!done) return refusal('That step could not be recorded; press Done again.');
  if (!done.recorded)
    return refusal(alreadyDoneText(done.doneBy, done.doneAt), { doneBy: done.doneBy, doneAt: done.doneAt });
  await appendAudited(deps, run, {
    kind: 'manual_step',
    actor: user,
    target: run.target,
    runId: run.id,
    data: { step: step.id, title: step.title },
  });
  const record = (await deps.procedureRuns.steps(run.id)).find((candidate) => candidate.stepId === step.id)!;
  return { ok: true, run, step, record, number: position + 1 };
}
