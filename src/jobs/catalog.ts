import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { CHANNEL_ID } from '../channelId.js';

/**
 * Every job the bot queues, declared once: its name, its queue, the schema of its payload,
 * the rule that names it (the job id, which is what makes a second enqueue of the same work
 * a no-op) and how it is retried. Producers hand a `JobItem` to the queue adapter's
 * `enqueue`; workers register one processor per job (see processors.ts), which receives the
 * payload parsed by the schema here. This module knows no processor and no chat platform:
 * the bot and the domain import it without loading either.
 */

/** Queue names. One queue per kind of work so a Slack outage never holds up diagnostics. */
export const QUEUES = {
  diagnostics: 'diagnostics',
  notifications: 'notifications',
  /** Previews, approvals' expiry and executions: database work on targets that changes things. */
  remediation: 'remediation',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOBS = {
  health: 'health',
  /** One fire of a target's health scheduler (see schedules/healthSchedules.ts). */
  scheduledHealth: 'scheduled-health',
  /** One fire of a procedure's schedule (see schedules/procedureSchedules.ts). */
  scheduledProcedure: 'scheduled-procedure',
  procedureRun: 'procedure-run',
  healthReport: 'health-report',
  /** `/runbook health all | tag:<t>`: every target's check, a few at a time (health/fleetJob.ts). */
  fleetHealth: 'fleet-health',
  /** The fleet's one summary in its channel, and its problem targets' reports in the thread. */
  fleetSummary: 'fleet-summary',
  findingDetail: 'finding-detail',
  procedurePost: 'procedure-post',
  /** Post a scheduled report or all clear. */
  scheduledHealthReport: 'scheduled-health-report',
  /** Post one message for the targets of a scheduled fire that changed (two or more). */
  scheduledHealthDigest: 'scheduled-health-digest',
  requestCard: 'request-card',
  auditMirror: 'audit-mirror',
  incidentOpen: 'incident-open',
  incidentRoot: 'incident-root',
  incidentTimer: 'incident-timer',
  incidentReport: 'incident-report',
  /** Trigger or resolve the incident's alert in PagerDuty or Opsgenie (incidents/pager.ts). */
  incidentPage: 'incident-page',
  actionPreview: 'action-preview',
  approvalExpiry: 'approval-expiry',
  executeAction: 'execute-action',
  rowSecurityRevert: 'row-security-revert',
} as const;

// Payloads. Jobs carry ids only where they can; the state database holds the rest, so a job
// can never disagree with it.

/** Above the micro-batch a bot records at once (100), so a batch always fits one job. */
const MAX_RUNS_PER_HEALTH_JOB = 500;

/**
 * Runs recorded together for one target: one health job runs the check once for all of
 * them, and one report job posts their reports. The single-run shape is what bots before
 * batching queued (a rolling deploy can leave some).
 */
const runBatchSchema = z.union([
  z.object({ runIds: z.array(z.uuid()).min(1).max(MAX_RUNS_PER_HEALTH_JOB) }),
  z.object({ runId: z.uuid() }).transform(({ runId }) => ({ runIds: [runId] })),
]);

/** Above any fleet a targets file is expected to hold; a run per target. */
export const MAX_FLEET_TARGETS = 1000;

/** A fleet run: one run per target, where its summary goes, and what it was asked for. */
const fleetJobSchema = z.object({
  runIds: z.array(z.uuid()).min(1).max(MAX_FLEET_TARGETS),
  channel: z.string().min(1),
  /** `all targets` or `tag:production`, for the summary's headline. */
  label: z.string().min(1).max(100),
  /**
   * How many targets the worker checked at once (health/fleet.ts fleetPaceText), for the
   * summary; set on the summary job by the fleet job, absent when the sweep queued it.
   */
  pace: z.string().max(100).optional(),
});

/**
 * What a health scheduler's fire carries: the target's name and where to post; or, for the
 * targets sharing a channel and a schedule, their names and the schedule's key (one fire
 * checks them all and posts one digest of those that changed).
 */
const scheduledHealthJobSchema = z.union([
  z.object({
    target: z.string().min(1).max(64),
    channel: z.string().regex(CHANNEL_ID),
  }),
  z.object({
    targets: z.array(z.string().min(1).max(64)).min(2).max(MAX_FLEET_TARGETS),
    channel: z.string().regex(CHANNEL_ID),
    /** A hash of the cron and time zone the targets share: names the group's scheduler. */
    group: z.string().regex(/^[0-9a-f]{8,40}$/),
  }),
]);

/**
 * What a procedure scheduler's fire carries: the procedure, the target, where to post, and
 * the scheduler's own id (which names the schedule whose previous results it is compared with).
 */
const scheduledProcedureJobSchema = z.object({
  schedule: z.string().min(1).max(400),
  procedure: z.string().min(1).max(300),
  target: z.string().min(1).max(64),
  channel: z.string().regex(CHANNEL_ID),
});
export type ScheduledProcedureJob = z.infer<typeof scheduledProcedureJobSchema>;

const findingDetailJobSchema = z.object({
  runId: z.uuid(),
  check: z.string().min(1).max(64),
  channel: z.string().min(1),
  threadTs: z.string().min(1),
});

const procedureRunJobSchema = z.object({ runId: z.uuid() });
/** A run started by a procedure schedule names it: its post depends on the schedule's last results. */
const procedureRunStartJobSchema = procedureRunJobSchema.extend({
  schedule: z.string().min(1).max(400).optional(),
});

/** At most this many status changes are carried to a scheduled post (the rest are counted). */
export const MAX_STATUS_CHANGES = 20;
const checkStatus = z.enum(['ok', 'warn', 'critical', 'skipped', 'error']);
const statusChangeSchema = z.object({
  check: z.string().min(1).max(64),
  title: z.string().max(200),
  /** null: the check had no status in the previous scheduled run. */
  from: checkStatus.nullable(),
  to: checkStatus,
});

/** A scheduled post: the stored run holds the report; the payload says why it is posted. */
const scheduledHealthPostJobSchema = z.object({
  runId: z.uuid(),
  channel: z.string().min(1),
  kind: z.enum(['problem', 'all-clear']),
  reason: z.enum(['changed', 'reminder', 'unannounced', 'cleared']),
  changes: z.array(statusChangeSchema).max(MAX_STATUS_CHANGES),
  /** Changes left out of `changes`. */
  moreChanges: z.number().int().min(0).default(0),
  /** When the problem was first posted (ISO), for reminders. */
  problemSince: z.string().nullable().default(null),
});

/** A scheduled fire's one message for a channel: the targets that changed, each with its post. */
const scheduledHealthDigestJobSchema = z.object({
  channel: z.string().regex(CHANNEL_ID),
  items: z.array(scheduledHealthPostJobSchema).min(2).max(MAX_FLEET_TARGETS),
});

/** Jobs about one action request carry its id; the request row holds everything else. */
const requestJobSchema = z.object({ requestId: z.uuid() });

/** Post every unposted audit event of one thread up to `upToSeq`. */
const auditMirrorJobSchema = z.object({
  channel: z.string().min(1),
  threadTs: z.string().min(1).nullable(),
  upToSeq: z.number().int().positive(),
});

const incidentJobSchema = z.object({ incidentId: z.uuid() });
const incidentTimerJobSchema = z.object({
  incidentId: z.uuid(),
  timer: z.enum(['response-warning', 'escalation', 'milestone', 'status-reminder']),
  /** Escalation: the level reached (1: the second level); milestone: its index. */
  step: z.number().int().min(0).max(50).optional(),
});

const incidentPageJobSchema = z.object({
  incidentId: z.uuid(),
  provider: z.enum(['pagerduty', 'opsgenie']),
  action: z.enum(['trigger', 'resolve']),
});

/** A person asked to preview an action; `values` are what they typed for its parameters. */
const actionPreviewJobSchema = z.object({
  runId: z.uuid(),
  stepId: z.string().min(1).max(16),
  requestedBy: z.string().min(1),
  values: z.record(z.string(), z.string().max(1000)),
});

// Retries. Bounded retention for all: completed jobs are kept an hour for inspection, failed
// ones a day.
const RETENTION = {
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 86_400, count: 5000 },
} as const;

/** `attempts` tries in all, the n-th retry `firstDelayMs · 2ⁿ⁻¹` after the one before. */
function retried(attempts: number, firstDelayMs: number): JobsOptions {
  return { attempts, backoff: { type: 'exponential', delay: firstDelayMs }, ...RETENTION };
}

/** Diagnostics (health, procedure checks): idempotent, and an unreachable target is a result, not a retry. */
const DIAGNOSTICS = retried(3, 1000);
/**
 * Posting to Slack: Slack may be down a while (the retries span about four minutes; for
 * health reports the recovery sweep takes over after that).
 */
const POST = retried(8, 2000);

/**
 * One job's declaration. `id` names the job after its payload: enqueueing the same work
 * again while the job is kept is a no-op. Its `occasion`, where it takes one, is what else
 * tells one enqueue of the same payload from another (a click, a sweep's requeue count);
 * without `id`, every enqueue is a new job.
 */
interface JobDeclaration<S extends z.ZodType, O> {
  queue: QueueName;
  schema: S;
  id?: (payload: z.output<S>, occasion: O) => string;
  options: JobsOptions;
}

function declare<S extends z.ZodType, O = undefined>(declaration: JobDeclaration<S, O>) {
  return declaration;
}

export const CATALOG = {
  [JOBS.health]: declare({
    queue: QUEUES.diagnostics,
    schema: runBatchSchema,
    // Named after its first run: queueing the same batch twice is a no-op. The recovery
    // sweep's requeue is a new job each sweep, and a retried sweep queues nothing twice.
    id: ({ runIds }, occasion?: { requeue: number }) =>
      occasion ? `requeue-health-${runIds[0]}-${occasion.requeue}` : `health-${runIds[0]}`,
    options: DIAGNOSTICS,
  }),
  [JOBS.scheduledHealth]: declare({
    queue: QUEUES.diagnostics,
    schema: scheduledHealthJobSchema,
    // The id of the target's scheduler, or its group's (their fires get their own).
    id: (data) =>
      'target' in data ? `scheduled-health-${data.target}` : `scheduled-health-${data.channel}-${data.group}`,
    // Diagnostics are idempotent; a failed fire is retried, the next one comes anyway.
    options: retried(3, 5000),
  }),
  [JOBS.scheduledProcedure]: declare({
    queue: QUEUES.diagnostics,
    schema: scheduledProcedureJobSchema,
    // The id of the schedule's scheduler (its fires get their own).
    id: ({ schedule }) => schedule,
    options: retried(3, 5000),
  }),
  [JOBS.procedureRun]: declare({
    queue: QUEUES.diagnostics,
    schema: procedureRunStartJobSchema,
    id: ({ runId }) => runId,
    options: DIAGNOSTICS,
  }),
  [JOBS.healthReport]: declare({
    queue: QUEUES.notifications,
    schema: runBatchSchema,
    // Named after the first run, as the health job is.
    id: ({ runIds }, occasion?: { requeue: number }) =>
      occasion ? `requeue-report-${runIds[0]}-${occasion.requeue}` : `report-${runIds[0]}`,
    options: POST,
  }),
  [JOBS.fleetHealth]: declare({
    queue: QUEUES.diagnostics,
    schema: fleetJobSchema,
    // Named after its first run, as the health job is: the same fleet run is queued once.
    id: ({ runIds }) => `fleet-${runIds[0]}`,
    options: DIAGNOSTICS,
  }),
  [JOBS.fleetSummary]: declare({
    queue: QUEUES.notifications,
    schema: fleetJobSchema,
    id: ({ runIds }) => `fleet-summary-${runIds[0]}`,
    options: POST,
  }),
  [JOBS.findingDetail]: declare({
    queue: QUEUES.notifications,
    schema: findingDetailJobSchema,
    // One detail post per finding while the job exists, however often Details is clicked.
    id: ({ runId, check }) => `detail-${runId}-${check}`,
    options: POST,
  }),
  [JOBS.procedurePost]: declare({
    queue: QUEUES.notifications,
    schema: procedureRunJobSchema,
    id: ({ runId }) => `procedure-post-${runId}`,
    options: POST,
  }),
  [JOBS.scheduledHealthReport]: declare({
    queue: QUEUES.notifications,
    schema: scheduledHealthPostJobSchema,
    id: ({ runId }) => `scheduled-health-${runId}`,
    options: POST,
  }),
  [JOBS.scheduledHealthDigest]: declare({
    queue: QUEUES.notifications,
    schema: scheduledHealthDigestJobSchema,
    // Its first run's: a retried fire names the same runs, so the digest is queued once.
    id: ({ items }) => `scheduled-digest-${items[0]!.runId}`,
    options: POST,
  }),
  // A fresh job per change: the card job renders whatever the state is when it runs.
  [JOBS.requestCard]: declare({ queue: QUEUES.notifications, schema: requestJobSchema, options: POST }),
  [JOBS.auditMirror]: declare({
    queue: QUEUES.notifications,
    schema: auditMirrorJobSchema,
    id: ({ upToSeq }) => `audit-mirror-${upToSeq}`,
    options: retried(10, 2000),
  }),
  [JOBS.incidentOpen]: declare({
    queue: QUEUES.notifications,
    schema: incidentJobSchema,
    id: ({ incidentId }) => `incident-open-${incidentId}`,
    options: POST,
  }),
  // Each change re-renders the root message and each ask drafts a report again.
  [JOBS.incidentRoot]: declare({ queue: QUEUES.notifications, schema: incidentJobSchema, options: POST }),
  [JOBS.incidentReport]: declare({ queue: QUEUES.notifications, schema: incidentJobSchema, options: POST }),
  [JOBS.incidentTimer]: declare({
    queue: QUEUES.notifications,
    schema: incidentTimerJobSchema,
    // Fixed per incident, timer and step, so scheduling again replaces the timer and resolve finds it.
    id: ({ incidentId, timer, step }) =>
      `incident-${incidentId}-${timer}${step === undefined ? '' : `-${step}`}`,
    // A timer whose post fails (Slack down) is retried rather than lost.
    options: retried(5, 2000),
  }),
  [JOBS.incidentPage]: declare({
    queue: QUEUES.notifications,
    schema: incidentPageJobSchema,
    // One trigger and one resolve per incident and provider, however often they are asked for.
    id: ({ incidentId, provider, action }) => `incident-page-${provider}-${action}-${incidentId}`,
    // A pager outage or 429 is retried for about five minutes; a refusal (4xx) is not.
    options: retried(6, 5000),
  }),
  [JOBS.actionPreview]: declare({
    queue: QUEUES.remediation,
    schema: actionPreviewJobSchema,
    // One preview per click, however often Slack retries delivering it.
    id: ({ runId, stepId }, occasion: { click: string }) => `preview-${runId}-${stepId}-${occasion.click}`,
    options: retried(5, 2000),
  }),
  [JOBS.approvalExpiry]: declare({
    queue: QUEUES.remediation,
    schema: requestJobSchema,
    // An expiry that came early by the database's clock comes back as a job of its own.
    id: ({ requestId }, occasion?: { rearmedAt: number }) =>
      occasion ? `expiry-${requestId}-${occasion.rearmedAt}` : `expiry-${requestId}`,
    options: { ...RETENTION },
  }),
  [JOBS.executeAction]: declare({
    queue: QUEUES.remediation,
    schema: requestJobSchema,
    // The request id: however many approvals race, one execution job exists.
    id: ({ requestId }) => requestId,
    // Never retried: a second try is the at-most-once check's to refuse, not to run.
    options: { attempts: 1, ...RETENTION },
  }),
  [JOBS.rowSecurityRevert]: declare({
    queue: QUEUES.remediation,
    schema: requestJobSchema,
    id: ({ requestId }) => `revert-${requestId}`,
    // Turning protection back on is worth insisting on: an unreachable target is tried again.
    options: retried(8, 30_000),
  }),
};

type Catalog = typeof CATALOG;
export type JobName = keyof Catalog;
/** What a job's processor receives: its payload as the schema parsed it. */
export type JobPayload<N extends JobName> = z.output<Catalog[N]['schema']>;

type OccasionOf<N extends JobName> =
  Catalog[N] extends JobDeclaration<z.ZodType, infer O>
    ? undefined extends O
      ? { occasion?: Exclude<O, undefined> }
      : { occasion: O }
    : { occasion?: undefined };

/**
 * One job to queue: its name, payload and, for the jobs whose id takes one, the occasion.
 * `delayMs` holds it back that long (a timer, an expiry).
 */
export type JobItem = {
  [N in JobName]: { name: N; data: JobPayload<N>; delayMs?: number } & OccasionOf<N>;
}[JobName];

/** The item's job id by its job's rule, or undefined for jobs that are new at every enqueue. */
export function jobIdOf(item: JobItem): string | undefined {
  const declared = CATALOG[item.name] as JobDeclaration<z.ZodType, unknown>;
  return declared.id?.(item.data, item.occasion);
}

/** The queue an item goes to and the BullMQ options it is added with. */
export function jobSpec(item: JobItem): { queue: QueueName; options: JobsOptions } {
  const declared = CATALOG[item.name];
  const jobId = jobIdOf(item);
  return {
    queue: declared.queue,
    options: {
      ...(jobId !== undefined ? { jobId } : {}),
      ...(item.delayMs !== undefined ? { delay: item.delayMs } : {}),
      ...declared.options,
    },
  };
}

export type FleetJob = JobPayload<typeof JOBS.fleetHealth>;
export type ScheduledHealthJob = JobPayload<typeof JOBS.scheduledHealth>;
export type ScheduledHealthPostJob = JobPayload<typeof JOBS.scheduledHealthReport>;
export type ScheduledHealthDigestJob = JobPayload<typeof JOBS.scheduledHealthDigest>;
export type StatusChange = z.infer<typeof statusChangeSchema>;
export type AuditMirrorJob = JobPayload<typeof JOBS.auditMirror>;
export type IncidentTimer = JobPayload<typeof JOBS.incidentTimer>['timer'];
