import type { KnownBlock } from '@slack/types';
import { durationText, type IncidentPlan } from '../../incidents/escalation.js';
import type { Incident } from '../../incidents/model.js';
import { clip } from '../../text.js';
import { formatInTimeZone } from '../../time.js';
import { ACTIONS } from '../actionIds.js';
import { LIMITS } from '../blockLimits.js';
import { escapeMrkdwn, section } from './mrkdwn.js';

/**
 * The incident's root message, pinned in its channel: severity, response-time target,
 * commander, status, the procedures symptom matching suggests, and the escalation path
 * (named, never mentioned: the groups are told when their level is reached). Updated in place.
 */
export function incidentRootBlocks(incident: Incident, timeZone: string, plan: IncidentPlan): KnownBlock[] {
  // The target says where it came from when it is not the built-in one ("7 min (runbook)").
  const { rule } = plan;
  const deadline = new Date(incident.declaredAt.getTime() + rule.responseMs);
  const state =
    incident.status === 'resolved'
      ? `:white_check_mark: Resolved ${formatInTimeZone(incident.resolvedAt ?? new Date(), timeZone)}${incident.summary ? `: ${escapeMrkdwn(incident.summary)}` : ''}`
      : `:red_circle: Open${incident.statusText ? ` · ${escapeMrkdwn(incident.statusText)}` : ''}`;
  const blocks: KnownBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: clip(`INC-${incident.number} ${incident.severity}: ${incident.title}`, LIMITS.headerText),
        emoji: true,
      },
    },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Severity*\n${escapeMrkdwn(rule.label)}` },
        {
          type: 'mrkdwn',
          text: `*Response target*\n${rule.responseMs === 0 ? 'immediate' : durationText(rule.responseMs)}${rule.source === 'built-in' ? '' : ` (${rule.source})`}${rule.responseMs === 0 ? '' : `, by ${formatInTimeZone(deadline, timeZone)}`}${incident.acknowledgedAt ? ' (acknowledged)' : ''}`,
        },
        { type: 'mrkdwn', text: `*Commander*\n<@${incident.commander}>` },
        { type: 'mrkdwn', text: `*Status*\n${clip(state, 1900)}` },
      ],
    },
  ];
  if (incident.suggestedProcedures.length > 0) {
    blocks.push(
      section(
        `*Suggested procedures* (by symptoms):\n${incident.suggestedProcedures
          .map(
            (id) =>
              `• \`/runbook run ${escapeMrkdwn(`${id}${incident.target ? ` ${incident.target}` : ''}`)}\``,
          )
          .join('\n')}`,
      ),
    );
  }
  if (incident.status === 'open' && plan.path.length > 1) {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: clip(
            `Escalation if nobody acknowledges${plan.pathSource === 'built-in' ? '' : ` (${plan.pathSource})`}: ${plan.path.map((level) => escapeMrkdwn(level.name)).join(' → ')}`,
            LIMITS.sectionText,
          ),
        },
      ],
    });
  }
  if (incident.status === 'open') {
    // The incident id is enough: the handlers act on the open incident it names.
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.incidentReport,
          text: { type: 'plain_text', text: 'Draft report' },
          value: incident.id,
        },
        {
          type: 'button',
          action_id: ACTIONS.incidentResolve,
          style: 'primary',
          text: { type: 'plain_text', text: 'Resolve' },
          value: incident.id,
          confirm: {
            title: { type: 'plain_text', text: 'Resolve this incident?' },
            text: {
              type: 'mrkdwn',
              text: 'Its timers stop and the report draft is posted. `/incident resolve <summary>` adds a summary.',
            },
            confirm: { type: 'plain_text', text: 'Resolve' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
      ],
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `Declared by <@${incident.declaredBy}> ${formatInTimeZone(incident.declaredAt, timeZone)}. This thread is the incident's audit trail; \`/incident status …\` posts updates.`,
      },
    ],
  });
  return blocks;
}

/** The fallback text: the title is as typed, so a `<!channel>` in it must not be live. */
export function incidentRootText(incident: Incident): string {
  return `INC-${incident.number} ${incident.severity}: ${escapeMrkdwn(incident.title)} (${incident.status})`;
}
