import { JOBS, type JobPayload } from '../../jobs/catalog.js';
import { JobCannotSucceed } from '../../jobs/processors.js';
import type { QueueBackend } from '../../jobs/queueBackend.js';
import type { Logger } from '../../logger.js';
import { errorText } from '../../redact.js';
import type { ProcedureRunStore } from '../../store/procedureRuns.js';
import { describeConnectionFailure } from '../../targets/connectionErrors.js';
import type { TargetPools } from '../../targets/pools.js';
import type { TargetRegistry } from '../../targets/registry.js';
import type { ActionStep, CheckStep } from '../model.js';
import { bindStatement } from '../procedureParams.js';
import { type CheckResult, type CheckToRun, runChecks } from './runChecks.js';

export interface ProcedureJobDeps {
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  pools: TargetPools;
  queues: QueueBackend;
  logger: Logger;
}

/**
 * Runs the checks of one procedure run, in order, and stores each result; then queues the
 * post. Checks are read-only, so a retry after a crash runs them again harmlessly. A target
 * that cannot be reached gives every check that reason as its result, not a retry storm.
 */
export function procedureJobProcessor(deps: ProcedureJobDeps) {
  return async ({ runId }: JobPayload<typeof JOBS.procedureRun>): Promise<void> => {
    const run = await deps.procedureRuns.get(runId);
    if (!run) throw new JobCannotSucceed(`procedure run ${runId} does not exist`);
    if (run.status !== 'done' && run.status !== 'failed') {
      await deps.procedureRuns.markRunning(run.id);
      const checks = run.procedure.steps.filter((step): step is CheckStep => step.kind === 'check');
      let target: ReturnType<TargetRegistry['resolve']> | undefined;
      try {
        target = deps.targets.resolve(run.target);
        const results = await runBoundChecks(deps, target, checks, run.params);
        for (const [i, check] of checks.entries()) {
          const result = results[i]!;
          if (result.status === 'action')
            await deps.procedureRuns.turnIntoAction(run.id, asAction(check, result));
          else await deps.procedureRuns.saveCheckResult(run.id, check.id, result);
        }
        await deps.procedureRuns.finish(run.id);
      } catch (err) {
        // Removed from configuration since the command, or unreachable: a result either way.
        const reason = target
          ? describeConnectionFailure(err, target.url, target.settings.connectTimeoutMs)
          : errorText(err);
        deps.logger.warn({ err, runId: run.id }, 'procedure checks could not run');
        for (const check of checks)
          await deps.procedureRuns.saveCheckResult(run.id, check.id, failed(reason));
        await deps.procedureRuns.finish(run.id, reason);
      }
    }
    // The job id makes a second enqueue (a retry after a crash right here) a no-op.
    await deps.queues.enqueue({ name: JOBS.procedurePost, data: { runId: run.id } });
  };
}

async function runBoundChecks(
  deps: ProcedureJobDeps,
  target: ReturnType<TargetRegistry['resolve']>,
  checks: CheckStep[],
  params: Record<string, string>,
): Promise<CheckResult[]> {
  // Values were validated when the run was asked for; they are validated again here because
  // the job trusts only what the state database says.
  const runnable: CheckToRun[] = [];
  const results = new Map<CheckStep, CheckResult>();
  for (const step of checks) {
    const binding = bindStatement(step.statement, params);
    if (binding.ok) runnable.push({ step, values: binding.values });
    else results.set(step, failed(binding.problems.join('; ')));
  }
  const ran = await runChecks(deps.pools.readOnly(target), target, runnable);
  runnable.forEach((check, i) => {
    results.set(check.step, ran[i]!);
  });
  return checks.map((step) => results.get(step)!);
}

/** A check the target's catalog showed can act: the action it is, with why, for preview and approval. */
function asAction(check: CheckStep, result: CheckResult): ActionStep {
  const reasons = result.actionReasons ?? [result.error ?? 'not read-only on this target'];
  return {
    ...check,
    kind: 'action',
    risk: result.risk ?? 'medium',
    riskReasons: reasons,
    actionReasons: reasons.map((reason) => `not run as a check: ${reason}`),
    noTransaction: false,
  };
}

function failed(reason: string): CheckResult {
  return {
    status: 'error',
    columns: [],
    rows: [],
    rowCount: 0,
    truncated: false,
    error: reason,
    durationMs: 0,
  };
}
