import type { App } from '@slack/bolt';
import { submitParameters } from '../../../runbooks/previewStep.js';
import { ACTIONS } from '../../actionIds.js';
import { parametersModalMetadata, parametersModalValues } from '../../views/parametersModal.js';
import { refuse, safeJson, UNAVAILABLE } from '../access.js';
import type { ListenerDeps } from '../deps.js';

/**
 * The parameters modal's submission: errors are shown under the fields they concern (or the
 * first field, for a refusal of the whole form); otherwise the preview is queued and it closes.
 */
export function register(app: App, deps: ListenerDeps): void {
  app.view(ACTIONS.parametersModal, async ({ ack, view, body }) => {
    const metadata = parametersModalMetadata.safeParse(safeJson(view.private_metadata));
    const refusal = metadata.success
      ? refuse(deps.access, body.user.id, metadata.data.channel)
      : 'That form is out of date; press Preview again.';
    if (refusal) return ack({ response_action: 'errors', errors: firstBlockError(view, refusal) });
    const submitted = parametersModalValues(view.state);
    if (Object.keys(submitted.problems).length > 0)
      return ack({ response_action: 'errors', errors: submitted.problems });
    let outcome: Awaited<ReturnType<typeof submitParameters>>;
    try {
      // The view id is the submission's id: one preview per submission, however often delivered.
      outcome = await submitParameters(deps, metadata.data!, submitted.values, body.user.id, view.id);
    } catch (err) {
      deps.logger.error({ err }, 'a parameters form could not be handled');
      return ack({ response_action: 'errors', errors: firstBlockError(view, UNAVAILABLE) });
    }
    if (outcome.ok) return ack();
    // Each problem under its field; a refusal of the whole form under the first one.
    const errors = 'problems' in outcome ? outcome.problems : firstBlockError(view, outcome.reason);
    return ack({ response_action: 'errors', errors });
  });
}

/** A modal-level error shown on its first input (Slack attaches errors to input blocks). */
function firstBlockError(view: { blocks: Array<{ type: string; block_id?: string }> }, message: string) {
  const input = view.blocks.find((block) => block.type === 'input');
  return input?.block_id ? { [input.block_id]: message } : {};
}
