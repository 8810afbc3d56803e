import { alreadyDoneText, markManualStepDone } from '../../../runbooks/manualStepDone.js';
import { requestPreview } from '../../../runbooks/previewStep.js';
import { queuedWithoutWorkerText } from '../../../service/workerPresence.js';
import { ACTIONS } from '../../actionIds.js';
import { parametersModal } from '../../views/parametersModal.js';
import { stepBlocks, stepButtonSchema } from '../../views/procedureRun.js';
import type { ListenerDeps } from '../deps.js';
import { type Buttons, jsonValue } from './buttons.js';

/** A procedure run's step buttons: Preview on an action, Done on a manual step. */
export function register(buttons: Buttons, deps: ListenerDeps): void {
  buttons.on(ACTIONS.stepPreview, jsonValue(stepButtonSchema), {
    act: async ({ value, user, channel, clickId }) => {
      const outcome = await requestPreview(deps, value, user, clickId);
      if (!outcome.ok) return { text: outcome.reason };
      if (outcome.kind === 'needs-parameters')
        return {
          view: parametersModal(outcome.run, outcome.step, outcome.needed, channel, outcome.choices),
        };
      const workersDown = await deps.workers?.down();
      return workersDown ? { text: queuedWithoutWorkerText('The preview', workersDown) } : undefined;
    },
  });

  buttons.on(ACTIONS.manualDone, jsonValue(stepButtonSchema), {
    act: async ({ value, user }) => {
      const outcome = await markManualStepDone(deps, value, user);
      if (outcome.ok)
        return {
          replaceWith: stepBlocks(outcome.run, outcome.step, outcome.record, outcome.number),
          text: 'Step done',
        };
      // Who was first, as a mention.
      if (outcome.doneBy && outcome.doneAt)
        return { text: alreadyDoneText(`<@${outcome.doneBy}>`, outcome.doneAt) };
      return { text: outcome.reason };
    },
  });
}
