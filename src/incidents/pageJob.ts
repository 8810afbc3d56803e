import type { IncidentPageOutcome } from '../audit/events.js';
import { JobCannotSucceed, type JobRun } from '../jobs/processors.js';
import type { Logger } from '../logger.js';
import { errorText } from '../redact.js';
import type { IncidentStore } from '../store/incidents.js';
import type { IncidentService } from './incidentService.js';
import { type PageAction, type PagerProvider, type PagerSettings, sendPage } from './pager.js';

export interface PageJobDeps {
  incidents: Pick<IncidentStore, 'get'>;
  /** Audits into the incident's log and mirrors into its thread, like its other events. */
  incidentService: Pick<IncidentService, 'audit'>;
  settings: PagerSettings;
  logger: Logger;
  fetch?: typeof fetch;
}

/**
 * The `incident-page` job: sends the page and records in the incident's audit log that it
 * was accepted or, once no retry follows, that it failed and why. Attempts that will be
 * retried are not recorded: the timeline says what happened to the page, not each try.
 */
export function incidentPageProcessor(deps: PageJobDeps) {
  return async (
    { incidentId, provider, action }: { incidentId: string; provider: PagerProvider; action: PageAction },
    job: JobRun,
  ): Promise<void> => {
    const incident = await deps.incidents.get(incidentId);
    if (!incident) throw new JobCannotSucceed(`incident ${incidentId} does not exist`);
    const record = (outcome: Omit<IncidentPageOutcome, 'provider' | 'action'>) =>
      deps.incidentService.audit(incident, {
        kind: 'incident_page',
        actor: 'runbook-bot',
        data: { provider, action, ...outcome } satisfies IncidentPageOutcome,
      });
    try {
      await sendPage(deps, provider, action, incident);
    } catch (err) {
      if (err instanceof JobCannotSucceed || job.lastAttempt)
        await record({ outcome: 'failed', reason: errorText(err) });
      throw err;
    }
    await record({ outcome: 'sent' });
  };
}
