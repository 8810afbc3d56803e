import { describeAuditEvent, oneLine, type Part, SLACK_USER_ID } from '../../audit/describe.js';
import type { AuditKind, RenderableEvent } from '../../audit/events.js';
import { clip } from '../../text.js';
import { escapeMrkdwn } from './mrkdwn.js';

const SQL_SHOWN = 120;
const TEXT_SHOWN = 300;

const ICON: Record<AuditKind, string> = {
  command: ':keyboard:',
  preview: ':mag:',
  approval_requested: ':raised_hand:',
  approved: ':white_check_mark:',
  rejected: ':no_entry_sign:',
  expired: ':hourglass:',
  lapsed: ':hourglass:',
  execution_started: ':rocket:',
  execution_finished: ':x:',
  outcome_unknown: ':question:',
  verification: ':microscope:',
  reverted: ':leftwards_arrow_with_hook:',
  manual_step: ':ballot_box_with_check:',
  refused: ':no_entry:',
  incident_declared: ':rotating_light:',
  incident_updated: ':memo:',
  incident_resolved: ':white_check_mark:',
  incident_timer: ':alarm_clock:',
  incident_page: ':pager:',
};

/**
 * One short mrkdwn line per event for the run's (or incident's) thread; the audit log keeps
 * the detail. People are real mentions; everything else is escaped, cut to one line, and
 * SQL shown in a short code span.
 */
export function auditLine(event: RenderableEvent): string {
  return `${icon(event)} ${describeAuditEvent(event).map(mrkdwn).join('')}`;
}

function icon(event: RenderableEvent): string {
  const { data } = event;
  if (event.kind === 'preview' && typeof data.error === 'string') return ':warning:';
  if (event.kind === 'execution_finished') {
    if (data.met === false) return ':red_circle:';
    if (data.status === 'succeeded') return ':checkered_flag:';
    if (data.status === 'nothing_done') return ':white_circle:';
    if (data.status === 'outcome_unknown') return ':question:';
  }
  if (event.kind === 'incident_page' && data.outcome === 'failed') return ':warning:';
  if (event.kind === 'verification' && typeof data.met === 'boolean')
    return data.met ? ':large_green_circle:' : ':red_circle:';
  return ICON[event.kind];
}

function mrkdwn(part: Part): string {
  if (typeof part === 'string') return escapeMrkdwn(part);
  if ('person' in part)
    return SLACK_USER_ID.test(part.person) ? `<@${part.person}>` : escapeMrkdwn(part.person);
  // A backtick would end the code span early.
  if ('code' in part) return `\`${shown(part.code, SQL_SHOWN).replaceAll('`', "'")}\``;
  return shown(part.text, TEXT_SHOWN);
}

/** On one line, cut to `max` characters, escaped for mrkdwn. */
function shown(value: string, max: number): string {
  return escapeMrkdwn(clip(oneLine(value), max));
}
