import { type Done, done, type Refusal, refusal } from '../answer.js';
import type { AuditLog } from '../audit/auditLog.js';
import type { RunbookCommand } from '../commands/runbookCommand.js';
import { UserError } from '../errors.js';
import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import { matchProcedures } from '../runbooks/matchProcedures.js';
import { parameterProblems } from '../runbooks/procedureParams.js';
import type { RunbookLibrary } from '../runbooks/runbookLibrary.js';
import { queuedWithoutWorkerText, type WorkerPresence } from '../service/workerPresence.js';
import type { IncidentStore } from '../store/incidents.js';
import type { ProcedureRunStore } from '../store/procedureRuns.js';
import type { TargetRegistry } from '../targets/registry.js';
import { matchListText, procedureText, reloadText, runbookListText } from './views/runbookText.js';

export interface RunbookCommandDeps {
  audit: AuditLog;
  incidentStore: IncidentStore;
  runbooks: RunbookLibrary;
  procedureRuns: ProcedureRunStore;
  targets: TargetRegistry;
  queues: QueueBackend;
  logger: Logger;
  /** When given, a run queued while no worker is alive is answered as waiting, not running. */
  workers?: WorkerPresence;
}

export interface Requester {
  userId: string;
  channelId: string;
  /** Slack's id for this request; retries carry the same one. */
  requestId: string;
}

/** The answer, how it counts in the command metrics, and what follows it. */
export type CommandAnswer = (
  | (Done & { outcome: 'ok' | 'queued' | 'duplicate' })
  | (Refusal & { outcome: 'invalid' | 'unavailable' })
) & {
  /**
   * Work that would not fit before the acknowledgement: done after it, its text sent to
   * the person through the command's response URL.
   */
  followUp?: () => Promise<string>;
};

type LibraryCommand = Extract<RunbookCommand, { kind: 'list' | 'show' | 'match' | 'reload' | 'run' }>;

/** Answers the runbook subcommands; every answer is ephemeral text for the person who asked. */
export async function answerRunbookCommand(
  deps: RunbookCommandDeps,
  command: LibraryCommand,
  requester: Requester,
): Promise<CommandAnswer> {
  try {
    switch (command.kind) {
      case 'list':
        return command.query
          ? ok(
              matchListText(
                command.query,
                matchProcedures(command.query, deps.runbooks.procedures(), 25),
                'list',
              ),
            )
          : ok(runbookListText(deps.runbooks.list()));
      case 'show': {
        const runbook = deps.runbooks.runbook(command.id.toLowerCase());
        return ok(
          runbook ? runbookListText([runbook]) : procedureText(deps.runbooks.resolveProcedure(command.id)),
        );
      }
      case 'match':
        return ok(
          matchListText(command.text, matchProcedures(command.text, deps.runbooks.procedures()), 'match'),
        );
      case 'reload':
        // Parsing every file takes about a second here and grows with RUNBOOKS_DIR: the
        // command is acknowledged first and the summary follows.
        return done('Reloading the runbook files…', {
          outcome: 'ok' as const,
          followUp: async () => reloadText(await deps.runbooks.reload()),
        });
      case 'run':
        return await startProcedureRun(deps, command, requester);
    }
  } catch (err) {
    if (err instanceof UserError) return invalid(err.message);
    throw err;
  }
}

const ok = (text: string): CommandAnswer => done(text, { outcome: 'ok' as const });
const invalid = (reason: string): CommandAnswer => refusal(reason, { outcome: 'invalid' as const });
const unavailable = (reason: string): CommandAnswer => refusal(reason, { outcome: 'unavailable' as const });

/**
 * Validates everything the person can get wrong (procedure, target, parameter names and
 * values) before anything is recorded; then records the run and queues its checks.
 */
async function startProcedureRun(
  deps: RunbookCommandDeps,
  command: Extract<RunbookCommand, { kind: 'run' }>,
  requester: Requester,
): Promise<CommandAnswer> {
  const ref = deps.runbooks.resolveProcedure(command.procedure);
  const target = deps.targets.resolve(command.target);
  const problems = parameterProblems(ref.procedure, command.values);
  if (problems.length > 0) {
    return invalid(
      `Cannot run \`${ref.procedure.id}\`:\n${problems.map((problem) => `• ${problem}`).join('\n')}`,
    );
  }
  let created: Awaited<ReturnType<ProcedureRunStore['create']>>;
  try {
    // A run in an incident's channel is part of it: on its timeline, and its first action.
    const incident = await deps.incidentStore.openInChannel(requester.channelId);
    if (incident) await deps.incidentStore.acknowledge(incident.id);
    created = await deps.procedureRuns.create({
      incidentId: incident?.id,
      runbook: ref.runbook,
      procedure: ref.procedure,
      target: target.name,
      requestedBy: requester.userId,
      channelId: requester.channelId,
      params: command.values,
      idempotencyKey: `slash:${requester.requestId}`,
    });
  } catch (err) {
    deps.logger.error({ err }, 'state database unavailable');
    return unavailable(
      'The state database is unavailable right now, so nothing was started. Try again in a minute.',
    );
  }
  if (!created.created)
    return done(`Already running ${ref.procedure.title} on ${target.name}…`, {
      outcome: 'duplicate' as const,
    });
  // Before the root message exists there is no thread to mirror to: the command is audited only.
  await deps.audit.append({
    kind: 'command',
    actor: requester.userId,
    target: target.name,
    runId: created.run.id,
    data: { command: `/runbook run ${ref.procedure.id} ${target.name}`, params: command.values },
  });
  try {
    await deps.queues.enqueue({ name: JOBS.procedureRun, data: { runId: created.run.id } });
  } catch (err) {
    deps.logger.warn({ err, runId: created.run.id }, 'could not enqueue procedure run');
    await deps.procedureRuns.finish(created.run.id, 'queue unavailable').catch(() => undefined);
    return unavailable(
      'The job queue is unavailable right now, so nothing was started. Try again in a minute.',
    );
  }
  const workersDown = await deps.workers?.down();
  if (workersDown)
    return done(queuedWithoutWorkerText(`${ref.procedure.title} on ${target.name}`, workersDown), {
      outcome: 'queued' as const,
    });
  return done(`Running ${ref.procedure.title} on ${target.name}…`, { outcome: 'queued' as const });
}
