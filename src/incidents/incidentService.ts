import { type Answer, done, refusal } from '../answer.js';
import type { AuditLog } from '../audit/auditLog.js';
import type { AuditEventInput, IncidentChange } from '../audit/events.js';
import { appendMirrored } from '../audit/outbox.js';
import type { IncidentSettings } from '../config.js';
import { type IncidentTimer, JOBS, jobIdOf } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { matchProcedures } from '../runbooks/matchProcedures.js';
import type { RunbookIncidentPolicy } from '../runbooks/model.js';
import type { RunbookLibrary } from '../runbooks/runbookLibrary.js';
import type { IncidentStore, StoredIncident } from '../store/incidents.js';
import { plural } from '../text.js';
import type { Severity } from './model.js';
import { configuredPagers, PAGER_NAME, type PageAction } from './pager.js';
import { everyTimer, incidentPlan, responseTimerDelays, type TimerRef } from './timers.js';

export interface IncidentDeps {
  incidents: IncidentStore;
  audit: AuditLog;
  queues: QueueBackend;
  runbooks?: RunbookLibrary;
  settings: IncidentSettings;
  logger: Logger;
}

/**
 * What `/incident` does, without Slack: records the change, audits it, and queues the
 * Slack side (channel, root message, pins, timers, report) for the notifier, so a command
 * is answered at once and a Slack outage delays the channel, never loses the incident.
 */
export class IncidentService {
  constructor(private readonly deps: IncidentDeps) {}

  async declare(input: {
    severity: Severity;
    title: string;
    user: string;
    channelId: string;
    requestId: string;
    target?: string;
    /** Where it was asked from when not Slack ("terminal:alice"), recorded with the event. */
    via?: string;
  }): Promise<Answer> {
    const matches = this.deps.runbooks
      ? matchProcedures(input.title, this.deps.runbooks.procedures(), 3)
      : [];
    // The report's suggested root cause and prevention come from the best match that has them.
    const best = (
      matches.find((match) => match.procedure.rootCause || match.procedure.prevention) ?? matches[0]
    )?.procedure;
    const runbookPolicy = this.runbookPolicy(matches.map((match) => match.procedure.id));
    const { incident, created } = await this.deps.incidents.create({
      title: input.title,
      severity: input.severity,
      declaredBy: input.user,
      originChannel: input.channelId,
      target: input.target,
      suggestedProcedures: matches.map((match) => match.procedure.id),
      matchedProcedure: best
        ? { id: best.id, title: best.title, rootCause: best.rootCause, prevention: best.prevention }
        : undefined,
      runbookPolicy,
      idempotencyKey: `incident:${input.requestId}`,
    });
    if (!created) return done(`INC-${incident.number} is already being declared.`);
    await this.audit(incident, {
      kind: 'incident_declared',
      actor: input.user,
      data: {
        number: incident.number,
        severity: incident.severity,
        title: incident.title,
        ...via(input.via),
      },
    });
    // Often the check and the fix came first and the incident was declared after them.
    const attached = await this.deps.incidents.attachRecent(incident.id, input.channelId, ATTACH_WINDOW_MS);
    try {
      await this.notify(JOBS.incidentOpen, incident.id);
    } catch {
      // Nothing would ever open it: close it now, so declaring again is not a duplicate.
      const summary = 'not opened: the job queue was unavailable';
      await this.deps.incidents.resolve(incident.id, summary);
      await this.audit(incident, { kind: 'incident_resolved', actor: 'runbook-bot', data: { summary } });
      return refusal(
        `INC-${incident.number} could not be opened: the job queue is unavailable right now. Declare it again in a minute.`,
      );
    }
    const paging = await this.pageIfItPages(incident);
    return done(
      (this.deps.settings.channelMode === 'create'
        ? `Declared INC-${incident.number} (${incident.severity}). Creating its channel…`
        : `Declared INC-${incident.number} (${incident.severity}) in this channel.`) +
        attachedText(attached) +
        paging,
    );
  }

  /** `asked.incidentId` names the incident; without it, the open incident of the channel. */
  async update(
    channelId: string,
    user: string,
    change: { severity?: Severity; commander?: string; statusText?: string },
    asked: { incidentId?: string; via?: string } = {},
  ): Promise<Answer> {
    const open = asked.incidentId
      ? await this.deps.incidents.get(asked.incidentId)
      : await this.deps.incidents.openInChannel(channelId);
    if (!open) return this.noIncident(channelId);
    const incident = await this.deps.incidents.update(open.id, change);
    if (!incident) return refusal(`INC-${open.number} is already resolved.`);
    const words = change.statusText
      ? `posted a status: ${change.statusText}`
      : change.commander
        ? // The root message names the new commander, in each medium's own way.
          'handed command over'
        : `changed the severity to ${change.severity}`;
    await this.audit(incident, {
      kind: 'incident_updated',
      actor: user,
      data: { ...changeData(open, change), ...via(asked.via) },
    });
    await this.notify(JOBS.incidentRoot, incident.id);
    let paging = '';
    if (change.severity && change.severity !== open.severity) {
      await this.scheduleTimers(incident, { skipPastMilestones: true });
      paging = await this.pageIfItPages(incident);
    }
    return done(`INC-${incident.number}: ${words}${paging ? `.${paging}` : ''}`);
  }

  /**
   * `incidentId` names the incident (a root message's button); without it, the open incident
   * of the channel (a command typed there).
   */
  async resolve(
    channelId: string,
    user: string,
    summary: string | undefined,
    incidentId?: string,
    asked: { via?: string } = {},
  ): Promise<Answer> {
    const open = incidentId
      ? await this.deps.incidents.get(incidentId)
      : await this.deps.incidents.openInChannel(channelId);
    if (!open) return this.noIncident(channelId);
    const incident = await this.deps.incidents.resolve(open.id, summary);
    if (!incident) return refusal(`INC-${open.number} is already resolved.`);
    await this.audit(incident, {
      kind: 'incident_resolved',
      actor: user,
      data: { summary: summary ?? '', ...via(asked.via) },
    });
    await this.cancelTimers(incident);
    await this.notify(JOBS.incidentRoot, incident.id);
    await this.notify(JOBS.incidentReport, incident.id);
    if (incident.pagedAt) await this.page(incident, 'resolve');
    return done(`Resolved INC-${incident.number}. The report draft follows in the thread.`);
  }

  /** A draft of the named incident (open or resolved), or of the channel's open one. */
  async report(channelId: string, incidentId?: string): Promise<Answer> {
    const incident = incidentId
      ? await this.deps.incidents.get(incidentId)
      : await this.deps.incidents.openInChannel(channelId);
    if (!incident) return this.noIncident(channelId);
    await this.notify(JOBS.incidentReport, incident.id);
    return done(`Drafting the report of INC-${incident.number}…`);
  }

  /**
   * Jobs in the queue, so they survive restarts: a warning before the response target
   * passes, an escalation at each further level of the path while nobody acknowledges, the
   * severity's milestones (delayed jobs with fixed ids), and for a severity that pages (or
   * sets its own `status_reminder`) a status reminder at its cadence (a job scheduler, one
   * per incident). Scheduling again cancels every
   * timer the incident could have and queues its severity's, so it is safe to repeat and a
   * severity change leaves none of the old severity's; each does nothing if the incident was
   * acknowledged or resolved meanwhile, and resolve removes them.
   */
  async scheduleTimers(
    incident: StoredIncident,
    options: { skipPastMilestones?: boolean } = {},
  ): Promise<void> {
    const { queues, settings } = this.deps;
    for (const ref of everyTimer(incident, settings)) await queues.cancel(timerItem(incident.id, ref));
    const plan = incidentPlan(incident, settings);
    for (const { delayMs, ...ref } of responseTimerDelays(incident, plan, Date.now(), options))
      await queues.enqueue({ ...timerItem(incident.id, ref), delayMs });
    const every = plan.rule.statusReminderMs;
    const reminder = timerItem(incident.id, { timer: 'status-reminder' });
    if (every === undefined) {
      await queues.unschedule(JOBS.incidentTimer, jobIdOf(reminder)!);
      return;
    }
    // Upserted by id: a retry, or a change from P1 to P0, keeps one reminder (at the new cadence), not two.
    await queues.schedule(reminder, { every, startDate: Date.now() + every });
  }

  private async cancelTimers(incident: StoredIncident): Promise<void> {
    const { queues, settings } = this.deps;
    for (const ref of everyTimer(incident, settings)) await queues.cancel(timerItem(incident.id, ref));
    await queues.unschedule(JOBS.incidentTimer, timerJobId(incident.id, 'status-reminder'));
  }

  /**
   * What the runbook the incident is about says of severities: the first suggested
   * procedure's runbook that has a severity table or milestones, else the first of the
   * team's own runbooks that has one. Copied onto the incident, so workers, which hold no
   * runbooks, time it the same way.
   */
  private runbookPolicy(procedureIds: string[]): RunbookIncidentPolicy | undefined {
    const library = this.deps.runbooks;
    if (!library) return undefined;
    for (const id of procedureIds) {
      const policy = library.procedure(id)?.runbook.incidentPolicy;
      if (policy) return policy;
    }
    return library.list().find((runbook) => runbook.source.origin === 'team' && runbook.incidentPolicy)
      ?.incidentPolicy;
  }

  /**
   * The first time the incident is at a severity that pages: a trigger for each configured
   * pager. Answers the words to add to the person's answer (" Paging PagerDuty."), or ''.
   */
  private async pageIfItPages(incident: StoredIncident): Promise<string> {
    if (incident.pagedAt || !incidentPlan(incident, this.deps.settings).rule.page) return '';
    const pagers = configuredPagers(this.deps.settings.pager);
    if (pagers.length === 0) return '';
    await this.page(incident, 'trigger');
    await this.deps.incidents.markPaged(incident.id);
    return ` Paging ${pagers.map((provider) => PAGER_NAME[provider]).join(' and ')}.`;
  }

  /**
   * Queued, never sent from here: the provider's outage or a 429 is retried by the job, and
   * its id makes a repeated ask one page. A queue that refuses it is logged; the incident
   * itself stands.
   */
  private async page(incident: StoredIncident, action: PageAction): Promise<void> {
    for (const provider of configuredPagers(this.deps.settings.pager)) {
      try {
        await this.deps.queues.enqueue({
          name: JOBS.incidentPage,
          data: { incidentId: incident.id, provider, action },
        });
      } catch (err) {
        this.deps.logger.error(
          { err, provider, action, incident: `INC-${incident.number}` },
          `could not queue the ${provider} ${action} of INC-${incident.number}: the job queue is unavailable`,
        );
      }
    }
  }

  /** The answer in a channel with no open incident: the one declared from it, if any, named. */
  private async noIncident(channelId: string): Promise<Answer> {
    return noIncident(await this.deps.incidents.openDeclaredFrom(channelId));
  }

  /** Someone is waiting on the answer: a queue that does not take the job in time has failed. */
  private async notify(
    name: typeof JOBS.incidentOpen | typeof JOBS.incidentRoot | typeof JOBS.incidentReport,
    incidentId: string,
  ): Promise<void> {
    await this.deps.queues.enqueue({ name, data: { incidentId } });
  }

  /** Audited and, once the root message exists, mirrored into the incident's thread. */
  async audit(
    incident: StoredIncident,
    event: Omit<AuditEventInput, 'incidentId' | 'mirror'>,
  ): Promise<void> {
    await appendMirrored(this.deps, {
      ...event,
      target: incident.target ?? undefined,
      incidentId: incident.id,
      mirror: incident.rootTs ? { channel: incident.channelId, threadTs: incident.rootTs } : undefined,
    });
  }
}

/** What an update changed, as its audit event records it: who or what it was, and is now. */
function changeData(
  before: StoredIncident,
  change: { severity?: Severity; commander?: string; statusText?: string },
): IncidentChange {
  if (change.statusText) return { change: 'status', text: change.statusText };
  if (change.commander) return { change: 'commander', from: before.commander, to: change.commander };
  return { change: 'severity', from: before.severity, to: change.severity ?? before.severity };
}

/** Where a change was asked from, when it was not Slack: kept with its audit event. */
function via(origin: string | undefined): { via?: string } {
  return origin ? { via: origin } : {};
}

function timerItem(incidentId: string, ref: TimerRef) {
  return {
    name: JOBS.incidentTimer,
    data: { incidentId, timer: ref.timer, ...(ref.step !== undefined ? { step: ref.step } : {}) },
  } as const;
}

/** The timer's job id, which is also the status reminder's scheduler id. */
export function timerJobId(incidentId: string, timer: IncidentTimer, step?: number): string {
  return jobIdOf(timerItem(incidentId, { timer, ...(step !== undefined ? { step } : {}) }))!;
}

/** How far back declaring an incident looks for what its channel already found and ran. */
export const ATTACH_WINDOW_MS = 60 * 60_000;

/** " Its timeline takes in this channel's last hour: 1 health check, 2 procedure runs.", or ''. */
function attachedText(attached: { healthRuns: number; procedureRuns: number }): string {
  const parts = [
    attached.healthRuns > 0 ? plural(attached.healthRuns, 'health check') : '',
    attached.procedureRuns > 0 ? plural(attached.procedureRuns, 'procedure run') : '',
  ].filter(Boolean);
  return parts.length > 0 ? ` Its timeline takes in this channel's last hour: ${parts.join(', ')}.` : '';
}

/**
 * No open incident here: when some were declared from this channel and are worked in their
 * own, say which (a person just declared one and typed the next command where they were).
 */
function noIncident(declaredHere: StoredIncident[]): Answer {
  if (declaredHere.length > 0) {
    const which = declaredHere.map((incident) => `INC-${incident.number} (${incident.title})`).join(', ');
    return refusal(
      `There is no open incident in this channel. ${which}, declared from here, ${declaredHere.length === 1 ? 'is' : 'are'} worked in ${declaredHere.length === 1 ? 'its own channel' : 'their own channels'}: use the command there.`,
    );
  }
  return refusal(
    'There is no open incident in this channel. Use it in the incident channel, or declare one.',
    {
      suggestions: [{ family: 'incident', words: 'declare P1 <title>', does: 'declares one' }],
    },
  );
}
