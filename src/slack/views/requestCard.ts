import type { KnownBlock } from '@slack/types';
import { rowLimitText } from '../../remediation/limits.js';
import type { Plan } from '../../remediation/plan.js';
import { planTable } from '../../remediation/planTable.js';
import type { ActionStep } from '../../runbooks/model.js';
import type { ActionRequest } from '../../store/actionRequests.js';
import { clip } from '../../text.js';
import { utcMinute } from '../../time.js';
import { ACTIONS } from '../actionIds.js';
import { LIMITS } from '../blockLimits.js';
import { codeFence, escapeMrkdwn, section } from './mrkdwn.js';
import { type ReturnedRows, rowsBlocks } from './rowsTable.js';

/** The parts of the stored plan the card shows (a request stores the whole plan as JSON). */
type PlanView = Partial<
  Pick<
    Plan,
    | 'summary'
    | 'affectedRows'
    | 'backends'
    | 'sample'
    | 'lockLevel'
    | 'noTransaction'
    | 'rowLimit'
    | 'blocked'
    | 'riskRaised'
  >
>;

const STATUS_LINE: Record<ActionRequest['status'], string> = {
  previewed: ':eyes: Previewed: nothing has run. Request approval to go on.',
  pending: ':hourglass_flowing_sand: Waiting for approval',
  approved: ':white_check_mark: Approved: executing',
  executing: ':gear: Executing',
  succeeded: ':white_check_mark: Executed',
  nothing_done: ':white_circle: Nothing done: nothing was changed',
  failed: ':x: Failed: rolled back where possible',
  aborted: ':no_entry: Aborted: a limit was exceeded; nothing was changed',
  changed: ':warning: Not executed: what it touches changed since the preview; preview it again',
  outcome_unknown:
    ':grey_question: Outcome unknown: the worker stopped, or its connection was lost, when the change may have been committed; see the verification below',
  rejected: ':no_entry_sign: Rejected',
  expired: ':hourglass: Expired without enough approvals',
  lapsed:
    ':hourglass: Lapsed: approved, but not started within its execution window (the job queue was unavailable or no worker took it); nothing was run. Preview it again.',
};

/**
 * One message per action request that follows it through its life: the plan and a
 * "Request approval" button; then requester, expiry, approvals and Approve / Reject; then
 * the outcome, with every button gone so nobody clicks twice.
 */
export function requestCardBlocks(request: ActionRequest, step: ActionStep, position: number): KnownBlock[] {
  const plan = request.plan as PlanView;
  const blocks: KnownBlock[] = [
    section(
      `*Step ${position}: ${escapeMrkdwn(step.title)}* on \`${request.target}\` · risk *${request.risk}* · plan \`${request.planHash.slice(0, 12)}\``,
    ),
    section(codeFence(request.sql, 1500)),
  ];
  if (request.params.length > 0)
    blocks.push(
      section(
        request.params
          .map(
            (value, i) =>
              `\`$${i + 1}\` = \`${escapeMrkdwn(String(value))}\` (${step.statement.params[i]?.name ?? '?'})`,
          )
          .join('\n'),
      ),
    );
  blocks.push(section(planLine(plan)));
  const table = planTable(plan);
  if (table) blocks.push(section(`${tableCaption(plan)}${codeFence(table)}`));
  blocks.push(section(`*${statusLine(request, plan)}*${detailLine(request)}`));
  // What the statement returned (a diagnostic function's rows, EXPLAIN ANALYZE, RETURNING).
  const output = (request.outcome as { result?: { output?: ReturnedRows } } | null)?.result?.output;
  if (output && output.rowCount > 0) blocks.push(...rowsBlocks(output));
  const buttons = buttonsFor(request);
  if (buttons.length > 0) blocks.push({ type: 'actions', elements: buttons });
  return blocks;
}

export function requestCardText(request: ActionRequest, step: ActionStep): string {
  const status =
    request.status === 'succeeded' && verificationFails(request)
      ? 'executed, but verification still fails'
      : request.status.replace('_', ' ');
  return escapeMrkdwn(`${step.title} on ${request.target}: ${status}`);
}

type OutcomeView = {
  summary?: string;
  verification?: { before?: string; after?: string; met?: boolean };
} | null;

/** An execution whose verification checks expect something they did not get afterwards. */
function verificationFails(request: ActionRequest): boolean {
  return (request.outcome as OutcomeView)?.verification?.met === false;
}

/** The plan's summary, the row limit it is held to, and why the preview raised its risk. */
function planLine(plan: PlanView): string {
  const parts = [`*Plan:* ${escapeMrkdwn(plan.summary ?? 'no summary')}`];
  if (plan.rowLimit) parts.push(escapeMrkdwn(rowLimitText(plan.rowLimit)));
  const line = parts.join(' · ');
  return plan.riskRaised ? `${line}\n*Risk raised to high:* ${escapeMrkdwn(plan.riskRaised)}` : line;
}

/** A previewed plan that is blocked says why instead of inviting a request. */
function statusLine(request: ActionRequest, plan: PlanView): string {
  if (verificationFails(request))
    return request.status === 'succeeded'
      ? ':red_circle: Executed, but verification still fails'
      : `${STATUS_LINE[request.status]}; verification still fails`;
  if (request.status === 'previewed' && plan.blocked) {
    const reason = escapeMrkdwn(plan.blocked.reason);
    if (plan.blocked.kind === 'nothing_to_do')
      return `:zero: Nothing to do: ${reason}. There is nothing to approve.`;
    if (plan.blocked.kind === 'not_allowed') return `:no_entry: Not allowed on this target: ${reason}.`;
    if (plan.blocked.kind === 'missing_objects')
      return `:no_entry: Cannot run on this target: ${reason}. It cannot be requested for approval.`;
    return `:no_entry: Over the limit: ${reason}. It cannot be requested for approval.`;
  }
  return STATUS_LINE[request.status];
}

/** Which rows the table shows: a sample says whether before or after the change. */
function tableCaption(plan: PlanView): string {
  if (plan.backends && plan.backends.length > 0) return '';
  const caption = plan.sample?.caption;
  return caption ? `_Sample: ${escapeMrkdwn(caption)}_\n` : '';
}

function detailLine(request: ActionRequest): string {
  const parts: string[] = [];
  if (request.requestedBy) parts.push(`requested by <@${request.requestedBy}>`);
  if (request.status === 'pending' && request.expiresAt)
    parts.push(`expires ${utcMinute(request.expiresAt)}`);
  if (request.requestedBy || request.approvers.length > 0)
    parts.push(
      `approvals ${request.approvers.length}/${request.requiredApprovals}${request.approvers.length ? `: ${request.approvers.map((user) => `<@${user}>`).join(', ')}` : ''}`,
    );
  const outcome = request.outcome as OutcomeView;
  if (outcome?.summary) parts.push(escapeMrkdwn(outcome.summary));
  const verification = outcome?.verification;
  const mark =
    verification?.met === true ? ':large_green_circle: ' : verification?.met === false ? ':red_circle: ' : '';
  if (verification?.before !== undefined)
    parts.push(
      `verification before: ${escapeMrkdwn(verification.before)}; ${mark}after: ${escapeMrkdwn(verification.after ?? 'not run')}`,
    );
  else if (verification?.after !== undefined)
    parts.push(`${mark}verification: ${escapeMrkdwn(verification.after)}`);
  return parts.length > 0 ? `\n${clip(parts.join(' · '), LIMITS.sectionText - 200)}` : '';
}

function buttonsFor(request: ActionRequest) {
  const value = request.id;
  const button = (text: string, actionId: string, style?: 'primary' | 'danger') => ({
    type: 'button' as const,
    text: { type: 'plain_text' as const, text },
    action_id: actionId,
    value,
    ...(style ? { style } : {}),
  });
  if (request.status === 'previewed' && request.blocked) return [button('Discard', ACTIONS.reject)];
  if (request.status === 'previewed')
    return [
      button('Request approval', ACTIONS.requestApproval, 'primary'),
      button('Discard', ACTIONS.reject),
    ];
  if (request.status === 'pending')
    return [
      {
        ...button('Approve', ACTIONS.approve, 'primary'),
        confirm: {
          title: { type: 'plain_text' as const, text: 'Approve this action?' },
          text: {
            type: 'mrkdwn' as const,
            text: clip(`It runs on \`${request.target}\` as soon as enough people approve.`, 300),
          },
          confirm: { type: 'plain_text' as const, text: 'Approve' },
          deny: { type: 'plain_text' as const, text: 'Cancel' },
        },
      },
      button('Reject', ACTIONS.reject, 'danger'),
    ];
  return [];
}
