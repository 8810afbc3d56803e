import type pg from 'pg';
import { UserError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactText } from '../redact.js';
import { timingWaits } from '../targets/connectionBudget.js';
import {
  describeConnectionFailure,
  isConnectionFailure,
  leftStatementRunning,
} from '../targets/connectionErrors.js';
import {
  BrokenConnectionError,
  beginReadOnly,
  ReadOnlySession,
  type TransactionTimeouts,
} from '../targets/readOnly.js';
import { privilegeWarning } from '../targets/rolePrivileges.js';
import type { Target } from '../targets/target.js';
import { didYouMean } from '../text.js';
import { HEALTH_CHECKS, SLOWEST_ON_BIG_CATALOGS } from './catalog.js';
import { worst } from './checkKit.js';
import { describeCheckFailure } from './failures.js';
import { probeServer } from './probe.js';
import {
  type RunbookThresholdLayer,
  resolveOperators,
  resolveThresholds,
  type ThresholdOverrides,
  targetThresholdLayers,
} from './thresholds.js';
import type {
  CheckDefinition,
  CheckQuery,
  EvidenceRow,
  Finding,
  HealthReport,
  ReportStatus,
  ServerFacts,
} from './types.js';

export interface HealthRunOptions {
  /** Check ids to run; all when absent. */
  only?: readonly string[];
  /** Overrides on top of the target's own (e.g. from the CLI), already parsed. */
  thresholdOverrides?: ThresholdOverrides;
  /** Thresholds from the alert tables of the runbooks the target uses (see runbookThresholds.ts). */
  runbookThresholds?: RunbookThresholdLayer;
  /** Wall-clock budget of the whole run; checks that would start after it are skipped. */
  budgetMs?: number;
  /** Rows of evidence kept per finding. */
  evidenceLimit?: number;
  logger?: Logger;
  /** Sees every statement a check sends (benchmarks replay them on a bare client). */
  onStatement?: (sql: string, params: unknown[]) => void;
  checks?: readonly CheckDefinition[];
}

export const DEFAULT_BUDGET_MS = 15_000;
export const DEFAULT_EVIDENCE_LIMIT = 10;
/** Below this much budget a check is not started: it could not finish meaningfully. */
const MIN_CHECK_BUDGET_MS = 50;

/**
 * Runs the health checks against one target. Never throws for database trouble: an
 * unreachable target is a report with `status: 'unreachable'`, and a check that fails,
 * times out or lacks privileges is a finding saying so while the others still report.
 */
export async function runHealthCheck(
  target: Target,
  pool: pg.Pool,
  options: HealthRunOptions = {},
): Promise<HealthReport> {
  const startedAt = new Date();
  let started = performance.now();
  const catalog = options.checks ?? HEALTH_CHECKS;
  const checks = selectChecks(catalog, options.only);
  // The runbooks the target uses set thresholds first; the target's own and the CLI's win over them.
  const layers = targetThresholdLayers(
    target,
    catalog,
    options.runbookThresholds,
    options.thresholdOverrides,
  ).map((layer) => layer.values);
  const base: Pick<HealthReport, 'target' | 'startedAt' | 'connectionWaitMs'> = {
    target: target.name,
    startedAt: startedAt.toISOString(),
  };
  const describeFailure = (err: unknown) =>
    describeConnectionFailure(err, target.url, target.settings.connectTimeoutMs);

  const connected = await timingWaits(() => pool.connect());
  // A wait for a connection slot (the process's budget is in use elsewhere) is not the
  // target's time: the run's budget and duration start once it has its slot, also when the
  // target then refuses the connection.
  if (connected.waitedMs > 0) base.connectionWaitMs = connected.waitedMs;
  started += connected.waitedMs;
  if (!connected.ok) return unreachable(base, started, describeFailure(connected.error));
  const firstClient = connected.value;
  const deadline = started + (options.budgetMs ?? DEFAULT_BUDGET_MS);
  const firstSession = new ReadOnlySession(firstClient);
  let server: ServerFacts;
  try {
    server = await firstSession.run(target.settings, (c) =>
      probeServer(queryable(c, 'probe', options, target.settings)),
    );
  } catch (caught) {
    firstClient.release(true);
    const err = caught instanceof BrokenConnectionError ? caught.original : caught;
    // Without the probe no check can run: a server that accepts connections but cannot
    // answer one trivial query (overloaded, in recovery trouble) is as good as unreachable.
    const reason = isConnectionFailure(err)
      ? describeFailure(err)
      : `connected, but the first query failed: ${redactText((err as Error)?.message ?? String(err))}`;
    return unreachable(base, started, reason);
  }

  const run: RunContext = { target, server, layers, deadline, options, describeFailure };
  const findings = new Array<Finding>(checks.length);
  const pending = checks.map((_, index) => index);
  // The first lane keeps report order, so the quick session checks an incident needs come
  // first (and a run held to one connection is as before); the others start with the checks
  // that are slowest on a big catalog, costliest first, so that these overlap the quick ones.
  const costliest = (index: number) => {
    const rank = SLOWEST_ON_BIG_CATALOGS.indexOf(checks[index]!.id);
    return rank < 0 ? SLOWEST_ON_BIG_CATALOGS.length : rank;
  };
  const next = (lane: number): number => {
    let at = 0;
    if (lane > 0)
      for (let i = 1; i < pending.length; i++) if (costliest(pending[i]!) < costliest(pending[at]!)) at = i;
    return pending.splice(at, 1)[0]!;
  };
  const laneCount = Math.max(1, Math.min(target.settings.poolMax, checks.length));
  // The probe's connection becomes the first lane's; the others connect when they start.
  const lanes = Array.from(
    { length: laneCount },
    (_, i) => new Lane(pool, i === 0 ? firstSession : undefined),
  );
  let openLanes = lanes.length;
  // Lanes connecting now: each holds a check it may hand back if it cannot connect.
  const connecting = new Set<Promise<unknown>>();
  await Promise.all(
    lanes.map(async (lane, laneIndex) => {
      try {
        for (;;) {
          if (pending.length === 0) {
            if (connecting.size === 0) return;
            // A lane still connecting may yet hand its check back: wait for it.
            await Promise.allSettled([...connecting]);
            continue;
          }
          const index = next(laneIndex);
          const attempt = lane.acquire();
          connecting.add(attempt);
          let session: ReadOnlySession;
          try {
            session = await attempt;
          } catch (err) {
            // This lane cannot connect (a full server, a pooler limit). While another lane
            // works, hand the check back, in its report-order place (a slow check must not
            // jump ahead of the quick ones on the lane that remains), and stop; the last
            // lane reports the rest at once.
            openLanes -= 1;
            if (openLanes > 0) {
              const after = pending.findIndex((i) => i > index);
              pending.splice(after < 0 ? pending.length : after, 0, index);
            } else {
              const reason = describeFailure(err);
              for (const rest of [index, ...pending.splice(0)]) {
                findings[rest] = failedFinding(checks[rest]!, `could not connect: ${reason}`);
              }
            }
            return;
          } finally {
            connecting.delete(attempt);
          }
          findings[index] = await runOneCheck(checks[index]!, lane, session, run);
        }
      } finally {
        await lane.finish();
      }
    }),
  );

  return {
    ...base,
    status: overallStatus(findings),
    durationMs: Math.round(performance.now() - started),
    serverVersion: server.version,
    roleWarning: privilegeWarning({
      role: server.role,
      superuser: server.isSuperuser,
      canSignal: server.canSignal,
    }),
    findings,
  };
}

interface RunContext {
  target: Target;
  server: ServerFacts;
  layers: ThresholdOverrides[];
  deadline: number;
  options: HealthRunOptions;
  describeFailure: (err: unknown) => string;
}

/** A connection that runs checks one after another; replaced if it breaks. */
class Lane {
  constructor(
    private readonly pool: pg.Pool,
    private session?: ReadOnlySession,
  ) {}

  async acquire(): Promise<ReadOnlySession> {
    this.session ??= new ReadOnlySession(await this.pool.connect());
    return this.session;
  }

  discard(): void {
    this.session?.client.release(true);
    this.session = undefined;
  }

  async finish(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    try {
      await session.close();
      session.client.release();
    } catch {
      session.client.release(true);
    }
  }
}

function failedFinding(check: CheckDefinition, summary: string): Finding {
  return {
    id: check.id,
    title: check.title,
    status: 'error',
    summary,
    threshold: null,
    evidence: [],
    evidenceTotal: 0,
    remediation: null,
    durationMs: 0,
  };
}

async function runOneCheck(
  check: CheckDefinition,
  lane: Lane,
  session: ReadOnlySession,
  run: RunContext,
): Promise<Finding> {
  const thresholds = resolveThresholds(check, run.layers);
  const operators = resolveOperators(check, run.options.runbookThresholds, run.layers.slice(1));
  const started = performance.now();
  const finding = (status: Finding['status'], summary: string, extra: Partial<Finding> = {}): Finding => ({
    id: check.id,
    title: check.title,
    status,
    summary,
    threshold: check.thresholds.length > 0 ? thresholds : null,
    evidence: [],
    evidenceTotal: 0,
    remediation: status === 'warn' || status === 'critical' ? check.remediation : null,
    durationMs: Math.round(performance.now() - started),
    ...extra,
  });

  if (check.needsReadAllStats && !run.server.canReadAllStats) {
    return finding(
      'skipped',
      `skipped: needs pg_read_all_stats to see other roles' sessions (GRANT pg_monitor TO ${run.server.role})`,
    );
  }
  const remaining = run.deadline - performance.now();
  if (remaining < MIN_CHECK_BUDGET_MS) {
    const budget = Math.round((run.options.budgetMs ?? DEFAULT_BUDGET_MS) / 1000);
    // Not "skipped": this check could have run, so the report must not read as all clear.
    return finding('error', `not run: the run's ${budget} s budget was used up before this check started`);
  }
  const limits = {
    // Whole milliseconds: Postgres takes them, and the timeout summary prints this number.
    statementTimeoutMs: Math.min(run.target.settings.statementTimeoutMs, Math.floor(remaining)),
    lockTimeoutMs: run.target.settings.lockTimeoutMs,
  };

  try {
    const outcome = await session.run(limits, (c) =>
      check.run({
        db: queryable(c, check.id, run.options, limits),
        server: run.server,
        threshold: (key) => {
          const value = thresholds[key];
          if (value === undefined) throw new Error(`check ${check.id} reads undeclared threshold "${key}"`);
          return value;
        },
        operator: (key) => operators[key],
        evidenceLimit: run.options.evidenceLimit ?? DEFAULT_EVIDENCE_LIMIT,
      }),
    );
    return finding(outcome.status, outcome.summary, {
      // Query texts in evidence can carry secrets (ALTER ROLE … PASSWORD, connection strings).
      evidence: (outcome.evidence ?? []).map(redactRow),
      evidenceTotal: outcome.evidenceTotal ?? outcome.evidence?.length ?? 0,
    });
  } catch (caught) {
    const broken = caught instanceof BrokenConnectionError;
    const err = broken ? caught.original : caught;
    // A client-side read timeout leaves the query running on the server: the connection
    // cannot serve the next check, so it is dropped like a broken one.
    if (broken || isConnectionFailure(err) || leftStatementRunning(err)) lane.discard();
    const failure = describeCheckFailure(err, { ...limits, role: run.server.role });
    if (failure.unexpected) {
      run.options.logger?.error({ err, check: check.id, target: run.target.name }, 'health check failed');
    }
    return finding(failure.status, failure.summary);
  }
}

/** Short read-only transactions sent together: few round trips, each bounded in what it locks. */
const SELECTS_PER_TRIP = 40;

/** Tags each statement so the server's own views show who sent it (and slow_queries can skip it). */
function queryable(
  client: pg.PoolClient,
  tag: string,
  options: HealthRunOptions,
  limits: TransactionTimeouts,
): CheckQuery {
  return {
    async query(sql, params = []) {
      const text = `/* runbook-bot:${tag} */ ${sql}`;
      options.onStatement?.(text, params);
      const result = await client.query(text, params);
      return result.rows;
    },
    async inOwnTransactions(selects) {
      const rows: EvidenceRow[] = [];
      const begin = beginReadOnly(limits);
      for (let at = 0; at < selects.length; at += SELECTS_PER_TRIP) {
        // Ends the check's transaction and leaves a new one open with the same timeouts, as
        // the session expects; the SELECTs are each followed by ROLLBACK, which frees their locks.
        const trip = selects
          .slice(at, at + SELECTS_PER_TRIP)
          .map((select) => `ROLLBACK; ${begin}; ${select}`);
        const text = `/* runbook-bot:${tag} */ ${trip.join('; ')}`;
        options.onStatement?.(text, []);
        const results = (await client.query(text)) as unknown as pg.QueryResult[] | pg.QueryResult;
        for (const result of Array.isArray(results) ? results : [results])
          if (result.command === 'SELECT') rows.push(...result.rows);
      }
      return rows;
    },
  };
}

function redactRow(row: EvidenceRow): EvidenceRow {
  const out: EvidenceRow = {};
  for (const [key, value] of Object.entries(row))
    out[key] = typeof value === 'string' ? redactText(value) : value;
  return out;
}

function selectChecks(catalog: readonly CheckDefinition[], only?: readonly string[]): CheckDefinition[] {
  if (!only || only.length === 0) return [...catalog];
  const unknown = only.filter((id) => !catalog.some((check) => check.id === id));
  if (unknown.length > 0) {
    const ids = catalog.map((check) => check.id);
    const named = unknown.map((id) => ({ id, hint: didYouMean(id, ids) }));
    // Like a mistyped target: the closest ids when there are, the whole list only when a name is not near any.
    const list = named.every((entry) => entry.hint) ? '' : ` Known checks: ${ids.join(', ')}.`;
    throw new UnknownCheckError(
      `Unknown check ${named.map((entry) => `"${entry.id}"${entry.hint ? ` (${entry.hint})` : ''}`).join(', ')}.${list}`,
    );
  }
  return catalog.filter((check) => only.includes(check.id));
}

export function overallStatus(findings: readonly Finding[]): ReportStatus {
  const statuses = findings.map((finding) => finding.status);
  const level = worst('ok', ...statuses);
  return level === 'critical' ? 'critical' : level === 'ok' || level === 'skipped' ? 'ok' : 'warn';
}

function unreachable(
  base: { target: string; startedAt: string },
  started: number,
  reason: string,
): HealthReport {
  return {
    ...base,
    status: 'unreachable',
    unreachable: reason,
    durationMs: Math.round(performance.now() - started),
    serverVersion: null,
    findings: [],
  };
}

export class UnknownCheckError extends UserError {
  override name = 'UnknownCheckError';
}
