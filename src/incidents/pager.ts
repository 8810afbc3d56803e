import { PAGER_NAME } from '../audit/events.js';
import { JobCannotSucceed } from '../jobs/processors.js';
import type { Logger } from '../logger.js';
import type { StoredIncident } from '../store/incidents.js';
import { clip } from '../text.js';
import type { Severity } from './model.js';

/**
 * The pager hook: an incident at a severity that pages (P0 and P1 unless the policy file or
 * the runbook's "Page" column says otherwise) triggers an alert in PagerDuty (Events API v2)
 * and/or Opsgenie, and resolving the incident resolves or closes it. The incident id is the
 * alert's dedup key / alias, so the provider keeps one alert per incident whatever is sent
 * twice. Sent by the `incident-page` job (jobs/catalog.ts): retried on 429, 5xx and network
 * failures; a 4xx other than 429 is a configuration problem no retry fixes, logged as such.
 */

export interface PagerSettings {
  /** PAGERDUTY_ROUTING_KEY and PAGERDUTY_EVENTS_URL. */
  pagerduty?: { routingKey: string; url: string };
  /** OPSGENIE_API_KEY and OPSGENIE_API_URL. */
  opsgenie?: { apiKey: string; url: string };
}

export type PagerProvider = keyof typeof PAGER_NAME;
export type PageAction = 'trigger' | 'resolve';

export function configuredPagers(settings: PagerSettings): PagerProvider[] {
  return (['pagerduty', 'opsgenie'] as const).filter((provider) => settings[provider] !== undefined);
}

export { PAGER_NAME };

const KEY_VARIABLE: Record<PagerProvider, string> = {
  pagerduty: 'PAGERDUTY_ROUTING_KEY',
  opsgenie: 'OPSGENIE_API_KEY',
};

/** PagerDuty's four severities; Opsgenie's five priorities. */
const PAGERDUTY_SEVERITY: Record<Severity, string> = {
  P0: 'critical',
  P1: 'error',
  P2: 'warning',
  P3: 'info',
};
const OPSGENIE_PRIORITY: Record<Severity, string> = { P0: 'P1', P1: 'P2', P2: 'P3', P3: 'P4' };

const SOURCE = 'runbook-bot';
const REQUEST_TIMEOUT_MS = 10_000;

type PagedIncident = Pick<
  StoredIncident,
  'id' | 'number' | 'title' | 'severity' | 'commander' | 'declaredAt' | 'target' | 'summary'
>;

interface PagerRequest {
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

function summaryOf(incident: PagedIncident): string {
  return `INC-${incident.number} ${incident.severity}: ${incident.title}`;
}

/** The HTTP request a page is, per provider and action. */
function pagerRequest(
  settings: PagerSettings,
  provider: PagerProvider,
  action: PageAction,
  incident: PagedIncident,
): PagerRequest {
  if (provider === 'pagerduty') {
    const { routingKey, url } = settings.pagerduty!;
    const base = { routing_key: routingKey, dedup_key: incident.id };
    return {
      url: new URL('/v2/enqueue', url).toString(),
      headers: { 'content-type': 'application/json' },
      body:
        action === 'trigger'
          ? {
              ...base,
              event_action: 'trigger',
              payload: {
                // PagerDuty cuts summaries at 1024 characters.
                summary: clip(summaryOf(incident), 1024),
                severity: PAGERDUTY_SEVERITY[incident.severity],
                source: incident.target ?? SOURCE,
                timestamp: incident.declaredAt.toISOString(),
                component: 'postgres',
                custom_details: { incident: `INC-${incident.number}`, commander: incident.commander },
              },
            }
          : { ...base, event_action: 'resolve' },
    };
  }
  const { apiKey, url } = settings.opsgenie!;
  const headers = { 'content-type': 'application/json', authorization: `GenieKey ${apiKey}` };
  return action === 'trigger'
    ? {
        url: new URL('/v2/alerts', url).toString(),
        headers,
        body: {
          // Opsgenie's message is at most 130 characters.
          message: clip(summaryOf(incident), 130),
          alias: incident.id,
          priority: OPSGENIE_PRIORITY[incident.severity],
          source: SOURCE,
          tags: [SOURCE, incident.severity],
          details: {
            incident: `INC-${incident.number}`,
            commander: incident.commander,
            ...(incident.target ? { target: incident.target } : {}),
          },
        },
      }
    : {
        url: new URL(
          `/v2/alerts/${encodeURIComponent(incident.id)}/close?identifierType=alias`,
          url,
        ).toString(),
        headers,
        body: { source: SOURCE, note: clip(`Resolved: ${incident.summary ?? summaryOf(incident)}`, 25_000) },
      };
}

/**
 * Sends one page. Throws to be retried (429, 5xx, no answer); throws JobCannotSucceed,
 * after logging what to fix, when the provider refuses it (a bad key, a malformed event).
 */
export async function sendPage(
  deps: { settings: PagerSettings; logger: Logger; fetch?: typeof fetch },
  provider: PagerProvider,
  action: PageAction,
  incident: PagedIncident,
): Promise<void> {
  if (!deps.settings[provider]) {
    throw new JobCannotSucceed(
      `${PAGER_NAME[provider]} is no longer configured (${KEY_VARIABLE[provider]} is unset): INC-${incident.number} was not paged`,
    );
  }
  const request = pagerRequest(deps.settings, provider, action, incident);
  const response = await (deps.fetch ?? fetch)(request.url, {
    method: 'POST',
    headers: request.headers,
    body: JSON.stringify(request.body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text().catch(() => '');
  const context = { provider, action, incident: `INC-${incident.number}`, status: response.status };
  if (response.ok) {
    deps.logger.info(context, `${PAGER_NAME[provider]}: ${action} of INC-${incident.number} accepted`);
    return;
  }
  const detail = clip(text.replace(/\s+/g, ' ').trim(), 500);
  if (response.status === 429 || response.status >= 500) {
    throw new Error(
      `${PAGER_NAME[provider]} answered ${response.status} to the ${action} of INC-${incident.number}; retrying${detail ? `: ${detail}` : ''}`,
    );
  }
  const hint =
    response.status === 401 || response.status === 403
      ? `check ${KEY_VARIABLE[provider]}`
      : response.status === 404 && action === 'resolve'
        ? 'the alert is not there (deleted, or never created)'
        : 'the event was refused as malformed';
  const message = `${PAGER_NAME[provider]} refused the ${action} of INC-${incident.number} with ${response.status} (${hint}); not retried${detail ? `: ${detail}` : ''}`;
  deps.logger.error({ ...context, response: detail }, message);
  throw new JobCannotSucceed(message);
}
