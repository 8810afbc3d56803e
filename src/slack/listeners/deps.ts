import type { ApprovalService } from '../../approvals/approvalService.js';
import type { AuditLog } from '../../audit/auditLog.js';
import type { HealthRunStarter } from '../../health/healthRunStarter.js';
import type { IncidentService } from '../../incidents/incidentService.js';
import type { QueueBackend } from '../../jobs/queueBackend.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import type { RunbookLibrary } from '../../runbooks/runbookLibrary.js';
import type { WorkerPresence } from '../../service/workerPresence.js';
import type { IncidentStore } from '../../store/incidents.js';
import type { ProcedureRunStore } from '../../store/procedureRuns.js';
import type { RunStore } from '../../store/runs.js';
import type { TargetRegistry } from '../../targets/registry.js';

/** Who may use the bot, and where; empty or absent lists allow everyone, everywhere. */
export interface AccessPolicy {
  users?: string[];
  channels?: string[];
}

/** What every listener may use: the domain's services and stores, never Bolt's app. */
export interface ListenerDeps {
  approvals: ApprovalService;
  audit: AuditLog;
  incidents: IncidentService;
  incidentStore: IncidentStore;
  access: AccessPolicy;
  targets: TargetRegistry;
  runbooks: RunbookLibrary;
  runs: RunStore;
  procedureRuns: ProcedureRunStore;
  queues: QueueBackend;
  metrics: Metrics;
  logger: Logger;
  /** Whether a worker is alive to take what is queued; answers say so when none is. */
  workers?: WorkerPresence;
  /** Shared by `/runbook health` and the report's Re-run button (it batches what arrives together). */
  healthRuns: HealthRunStarter;
}
