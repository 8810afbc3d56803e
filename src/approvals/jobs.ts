import { JOBS } from '../jobs/catalog.js';
import type { JobProcessors } from '../jobs/processors.js';
import type { ActionJobDeps } from './actionJob.js';
import { executeRequest, revertRequest } from './execution.js';
import { expireRequest } from './expiry.js';
import { previewAction } from './preview.js';

/** The remediation queue's jobs: an action's preview, a request's expiry and its execution. */
export function registerApprovalJobs(jobs: JobProcessors, deps: ActionJobDeps): void {
  jobs
    .register(JOBS.actionPreview, (job) => previewAction(deps, job))
    .register(JOBS.approvalExpiry, ({ requestId }) => expireRequest(deps, requestId))
    .register(JOBS.executeAction, ({ requestId }) => executeRequest(deps, requestId))
    .register(JOBS.rowSecurityRevert, ({ requestId }) => revertRequest(deps, requestId));
}
