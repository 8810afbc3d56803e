import type { WebClient } from '@slack/web-api';
import type pg from 'pg';
import type { IncidentSettings } from '../../config.js';
import {
  CHANNEL_NAME_ATTEMPTS,
  closedBeforeOpening,
  hasOwnChannel,
  incidentChannelName,
  needsOwnChannel,
} from '../../incidents/channels.js';
import type { NoticeStyle } from '../../incidents/escalation.js';
import type { IncidentService } from '../../incidents/incidentService.js';
import { composeIncidentReport, peopleInReport } from '../../incidents/reportDraft.js';
import { gatherReportInput } from '../../incidents/reportInput.js';
import { type IncidentTimer, incidentPlan, timerFired, timerNotice } from '../../incidents/timers.js';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { Logger } from '../../logger.js';
import type { IncidentStore, StoredIncident } from '../../store/incidents.js';
import { slackDisplayNames } from '../userNames.js';
import { incidentRootBlocks, incidentRootText } from '../views/incidentRoot.js';
import { postOnce } from './postOnce.js';

export interface IncidentPostDeps {
  db: pg.Pool;
  logger?: Logger;
  incidents: IncidentStore;
  incidentService: IncidentService;
  slack: WebClient;
  settings: IncidentSettings;
}

async function load(deps: IncidentPostDeps, incidentId: string): Promise<StoredIncident> {
  const incident = await deps.incidents.get(incidentId);
  if (!incident) throw new JobCannotSucceed(`incident ${incidentId} does not exist`);
  return incident;
}

/**
 * Opens the incident in Slack: its channel (a new one, `name_taken` answered with the next
 * free name, or the current one when configured), the declarer invited, the root message
 * posted and pinned, the declaring channel told, the timers started. A retry after a Slack
 * failure redoes only what is not done: posts are recorded, the rest is idempotent.
 */
export async function openIncident(deps: IncidentPostDeps, incidentId: string): Promise<void> {
  let incident = await load(deps, incidentId);
  if (closedBeforeOpening(incident)) return;
  if (needsOwnChannel(incident, deps.settings)) {
    await deps.incidents.setChannel(incident.id, await createChannel(deps, incident));
    incident = await load(deps, incidentId);
  }
  const ownChannel = hasOwnChannel(incident);
  if (ownChannel) {
    await deps.slack.conversations
      .invite({ channel: incident.channelId, users: incident.declaredBy })
      .catch(unless(['already_in_channel', 'cant_invite_self']));
  }
  if (!incident.rootTs) {
    const rootTs = await postOnce(deps, {
      key: `incident-root:${incident.id}`,
      channel: incident.channelId,
      text: incidentRootText(incident),
      blocks: incidentRootBlocks(incident, deps.settings.timeZone, incidentPlan(incident, deps.settings)),
    });
    await deps.incidents.setRoot(incident.id, rootTs);
    incident = await load(deps, incidentId);
  }
  await deps.slack.pins
    .add({ channel: incident.channelId, timestamp: incident.rootTs ?? '' })
    .catch(unless(['already_pinned']));
  if (ownChannel && !incident.announcedAt) {
    await postOnce(deps, {
      key: `incident-announce:${incident.id}`,
      channel: incident.originChannel,
      text: `INC-${incident.number} (${incident.severity}) declared by <@${incident.declaredBy}>: <#${incident.channelId}>`,
    });
    await deps.incidents.markAnnounced(incident.id);
  }
  // Timers are jobs with fixed ids: scheduling them again replaces them.
  if (incident.status === 'open') await deps.incidentService.scheduleTimers(incident);
}

/** A Slack error handler that lets these error codes pass (the step was done already). */
function unless(codes: string[]) {
  return (err: { data?: { error?: string } }) => {
    if (!codes.includes(err.data?.error ?? '')) throw err;
  };
}

async function createChannel(deps: IncidentPostDeps, incident: StoredIncident): Promise<string> {
  for (let attempt = 1; attempt <= CHANNEL_NAME_ATTEMPTS; attempt++) {
    try {
      const created = await deps.slack.conversations.create({
        name: incidentChannelName(incident, deps.settings.timeZone, attempt),
        is_private: deps.settings.privateChannels,
      });
      if (created.channel?.id) return created.channel.id;
    } catch (err) {
      if ((err as { data?: { error?: string } }).data?.error !== 'name_taken') throw err;
    }
  }
  throw new JobCannotSucceed(`no free channel name for INC-${incident.number}`);
}

/** Re-renders the pinned root message with the incident's current state. */
export async function refreshIncidentRoot(deps: IncidentPostDeps, incidentId: string): Promise<void> {
  const incident = await load(deps, incidentId);
  if (!incident.rootTs) return; // not opened yet: the open job posts the current state
  await deps.slack.chat.update({
    channel: incident.channelId,
    ts: incident.rootTs,
    text: incidentRootText(incident),
    blocks: incidentRootBlocks(incident, deps.settings.timeZone, incidentPlan(incident, deps.settings)),
  });
}

const TIMER_EMOJI: Record<IncidentTimer, string> = {
  'response-warning': ':warning:',
  escalation: ':rotating_light:',
  milestone: ':triangular_flag_on_post:',
  'status-reminder': ':memo:',
};
const SLACK_STYLE: NoticeStyle = {
  mention: (user) => `<@${user}>`,
  // Slack's user group mention; the domain holds only the group's id.
  group: (id) => `<!subteam^${id}>`,
  strong: (text) => `*${text}*`,
};

/**
 * A response-time warning, an escalation (its level's user groups mentioned), a milestone,
 * or a status reminder, as incidents/timers.ts decides.
 */
export async function fireIncidentTimer(
  deps: IncidentPostDeps,
  job: { incidentId: string; timer: IncidentTimer; step?: number; postKey: string },
): Promise<void> {
  const incident = await load(deps, job.incidentId);
  const plan = incidentPlan(incident, deps.settings);
  const ref = { timer: job.timer, ...(job.step !== undefined ? { step: job.step } : {}) };
  const message = timerNotice(incident, ref, plan, deps.settings, SLACK_STYLE);
  if (!message) return;
  await postOnce(deps, {
    key: job.postKey,
    channel: incident.channelId,
    text: `${TIMER_EMOJI[job.timer]} ${message}`,
  });
  // The audit records what fired, not these words: each medium words it itself.
  await deps.incidentService.audit(incident, {
    kind: 'incident_timer',
    actor: 'runbook-bot',
    data: { ...timerFired(incident, ref, plan) },
  });
}

/** Composes the report draft from the record and posts it in the thread, with the Markdown as a file. */
export async function postIncidentReport(deps: IncidentPostDeps, incidentId: string): Promise<void> {
  const incident = await load(deps, incidentId);
  const input = await gatherReportInput(deps.db, incident, deps.settings.timeZone);
  const draft = composeIncidentReport({
    ...input,
    severityLabel: incidentPlan(incident, deps.settings).rule.label,
    people: await slackDisplayNames(deps.slack, peopleInReport(input)),
  });
  const threadTs = incident.rootTs ?? undefined;
  // One message: the file with its comment (a separate text post would repeat on a retry).
  await deps.slack.files.uploadV2({
    channel_id: incident.channelId,
    ...(threadTs ? { thread_ts: threadTs } : {}),
    initial_comment: `Report draft for INC-${incident.number}${incident.status === 'open' ? ' (still open)' : ''}: ${draft.filename}`,
    filename: draft.filename,
    title: `INC-${incident.number} report draft`,
    content: draft.markdown,
  } as Parameters<WebClient['files']['uploadV2']>[0]);
}
