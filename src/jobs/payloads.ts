import { z } from 'zod';

/** Queue names. One queue per kind of work so a Slack outage never holds up diagnostics. */
export const QUEUES = {
  diagnostics: 'diagnostics',
  notifications: 'notifications',
  /** Previews, approvals' expiry and executions: database work on targets that changes things. */
  remediation: 'remediation',
} as const;

export const JOBS = {
  health: 'health',
  healthReport: 'health-report',
  findingDetail: 'finding-detail',
  procedureRun: 'procedure-run',
  procedurePost: 'procedure-post',
  actionPreview: 'action-preview',
  requestCard: 'request-card',
  approvalExpiry: 'approval-expiry',
  executeAction: 'execute-action',
  incidentOpen: 'incident-open',
  incidentRoot: 'incident-root',
  incidentTimer: 'incident-timer',
  incidentReport: 'incident-report',
} as const;

/** Jobs carry ids only; the state database holds the rest, so a job can never disagree with it. */

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
export const healthJobSchema = runBatchSchema;
export const healthReportJobSchema = runBatchSchema;

export const findingDetailJobSchema = z.object({
  runId: z.uuid(),
  check: z.string().min(1).max(64),
  channel: z.string().min(1),
  threadTs: z.string().min(1),
});

export const procedureRunJobSchema = z.object({ runId: z.uuid() });
export const procedurePostJobSchema = z.object({ runId: z.uuid() });

/** A person asked to preview an action; `values` are what they typed for its parameters. */
export const actionPreviewJobSchema = z.object({
  runId: z.uuid(),
  stepId: z.string().min(1).max(16),
  requestedBy: z.string().min(1),
  values: z.record(z.string(), z.string().max(1000)),
});

/** Jobs about one action request carry its id; the request row holds everything else. */
export const requestJobSchema = z.object({ requestId: z.uuid() });
export type RequestJob = z.infer<typeof requestJobSchema>;

export const incidentJobSchema = z.object({ incidentId: z.uuid() });
export const incidentTimerJobSchema = z.object({
  incidentId: z.uuid(),
  timer: z.enum(['response-warning', 'escalation', 'status-reminder']),
});

export type ActionPreviewJob = z.infer<typeof actionPreviewJobSchema>;
export type FindingDetailJob = z.infer<typeof findingDetailJobSchema>;
export type HealthJob = z.infer<typeof healthJobSchema>;
export type HealthReportJob = z.infer<typeof healthReportJobSchema>;

/** Bounded retention: completed jobs are kept an hour for inspection, failed ones a day. */
export const RETENTION = {
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 86_400, count: 5000 },
} as const;

/** A diagnostics job (health, procedure checks): idempotent, and an unreachable target is a result, not a retry. */
export const DIAGNOSTICS_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  ...RETENTION,
} as const;

/**
 * A job that posts to Slack: Slack may be down a while (the retries span about four
 * minutes; for health reports the recovery sweep takes over after that).
 */
export const POST_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 2000 },
  ...RETENTION,
} as const;
