import { z } from 'zod';
import { ACTIONS } from '../../actionIds.js';
import type { ListenerDeps } from '../deps.js';
import { type Buttons, plainValue, withWorkerStatus } from './buttons.js';

/**
 * The approval card's buttons: the request id is the value and the approval service applies
 * the policy; a click the access policy refuses is audited too.
 */
export function register(buttons: Buttons, deps: ListenerDeps): void {
  const requestId = plainValue(z.uuid());
  const refused = ({ value, user, reason }: { value: string; user: string; reason: string }) =>
    deps.approvals.refusedAccess(value, user, reason);
  // Each decision, and what workers carry out after it (told when none is alive to).
  const decisions = [
    [ACTIONS.requestApproval, 'requestApproval', "The card's update (Approve for the approvers)"],
    [
      ACTIONS.approve,
      'approve',
      'What this approval sets off (the card, and the execution once enough approvals are in)',
    ],
    [ACTIONS.reject, 'reject', "The card's update"],
  ] as const;
  for (const [actionId, decide, followUp] of decisions)
    buttons.on(actionId, requestId, {
      act: async ({ value, user }) =>
        withWorkerStatus(await deps.approvals[decide](value, user), deps.workers, followUp),
      refused,
    });
}
