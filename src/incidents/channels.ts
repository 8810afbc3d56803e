import type { StoredIncident } from '../store/incidents.js';
import { formatInTimeZone } from '../time.js';

/**
 * Where an incident is worked: its own channel (`INCIDENT_CHANNEL_MODE=create`) or the one
 * it was declared in. The Slack side (slack/posts/incidentPosts.ts) carries these decisions out.
 */

/** How many names are tried (`-2`, `-3`, …) when the first is taken. */
export const CHANNEL_NAME_ATTEMPTS = 20;

/** Slack channel names are lower-case, at most 80 characters. */
const CHANNEL_NAME_MAX = 80;

/**
 * `inc-20261124-checkout-failing` for the first attempt, then `…-2`, `…-3`: the date of
 * declaration in the configured time zone, and the title as a slug.
 */
export function incidentChannelName(
  incident: Pick<StoredIncident, 'declaredAt' | 'title' | 'number'>,
  timeZone: string,
  attempt: number,
): string {
  const date = formatInTimeZone(incident.declaredAt, timeZone).slice(0, 10).replaceAll('-', '');
  const slug = incident.title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50);
  const suffix = attempt > 1 ? `-${attempt}` : '';
  return (
    `inc-${date}-${slug || `incident-${incident.number}`}`.slice(0, CHANNEL_NAME_MAX - suffix.length) + suffix
  );
}

/** Whether the incident still needs its own channel created (it is still in the declaring one). */
export function needsOwnChannel(
  incident: Pick<StoredIncident, 'channelId' | 'originChannel'>,
  settings: { channelMode: 'create' | 'current' },
): boolean {
  return settings.channelMode === 'create' && incident.channelId === incident.originChannel;
}

/** Whether it is worked in a channel of its own (its declarer invited, the declaring channel told). */
export function hasOwnChannel(incident: Pick<StoredIncident, 'channelId' | 'originChannel'>): boolean {
  return incident.channelId !== incident.originChannel;
}

/**
 * Closed before it was ever opened: declaring timed out on the queue and the person was told
 * to declare again, but the open job may still have landed. Opening it now would make two.
 */
export function closedBeforeOpening(incident: Pick<StoredIncident, 'status' | 'rootTs'>): boolean {
  return incident.status === 'resolved' && !incident.rootTs;
}
