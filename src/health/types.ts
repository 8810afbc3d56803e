import type { ThresholdOperator, ThresholdSpec } from './thresholds.js';

export type CheckStatus = 'ok' | 'warn' | 'critical' | 'skipped' | 'error';
export type ReportStatus = 'ok' | 'warn' | 'critical' | 'unreachable';

/** A row of evidence: scalar values only, so it renders in a table, JSON and Slack alike. */
export type EvidenceRow = Record<string, string | number | boolean | null>;

/** Where to go next: the runbook procedure that addresses this finding. */
export interface RemediationHint {
  /** `runbook-id#procedure-id` in the runbook library. */
  procedure: string;
  text: string;
  /**
   * The procedure's parameters filled from each evidence row: parameter name → evidence
   * column (`{ table: 'table', trigger: 'second_trigger' }`), so the finding offers the
   * procedure for exactly the objects it found.
   */
  params?: Record<string, string>;
}

export interface Finding {
  id: string;
  title: string;
  status: CheckStatus;
  summary: string;
  /** The thresholds this run compared against (after overrides), or null for information. */
  threshold: Record<string, number> | null;
  evidence: EvidenceRow[];
  /** How many rows matched; larger than evidence.length when the list was cut to top N. */
  evidenceTotal: number;
  remediation: RemediationHint | null;
  durationMs: number;
}

export interface HealthReport {
  target: string;
  status: ReportStatus;
  startedAt: string;
  durationMs: number;
  /**
   * How long the run waited for a slot of the connection budget (TARGET_CONNECTION_BUDGET)
   * before it could connect; absent when it did not wait. Not part of durationMs.
   */
  connectionWaitMs?: number;
  serverVersion: string | null;
  /** Set when the target could not be reached: the one-line reason. */
  unreachable?: string;
  /** Set when checks ran as a superuser or a role that can signal backends: what to do about it. */
  roleWarning?: string;
  findings: Finding[];
}

/** What the probe learned about the server once per run; checks adapt to it. */
export interface ServerFacts {
  versionNum: number;
  version: string;
  database: string;
  role: string;
  isSuperuser: boolean;
  /** Superuser or member of pg_signal_backend: more than checks need. */
  canSignal: boolean;
  canReadAllStats: boolean;
  inRecovery: boolean;
  maxConnections: number;
  /** Schema pg_stat_statements is installed in (Supabase: `extensions`), or null. */
  pgStatStatementsSchema: string | null;
  pgStatStatementsAvailable: boolean;
}

export interface CheckQuery {
  query<R extends object = EvidenceRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /**
   * Each SELECT in a read-only transaction of its own with the check's timeouts, many per
   * round trip (simple protocol, so no parameters); all their rows. A transaction ends
   * with its locks, so reads that lock per object stay bounded by one SELECT's objects.
   */
  inOwnTransactions?(selects: readonly string[]): Promise<EvidenceRow[]>;
}

export interface CheckContext {
  db: CheckQuery;
  server: ServerFacts;
  /** The resolved value of one of the check's declared thresholds. */
  threshold(key: string): number;
  /** The operator a runbook's threshold table wrote for this threshold, when its value came from one. */
  operator(key: string): ThresholdOperator | undefined;
  evidenceLimit: number;
}

export interface CheckOutcome {
  status: Exclude<CheckStatus, 'error'>;
  summary: string;
  evidence?: EvidenceRow[];
  evidenceTotal?: number;
}

export interface CheckDefinition {
  id: string;
  title: string;
  /** What it looks at and why it matters, for `runbook-bot checks` and docs/health-checks.md. */
  description: string;
  /** Needs pg_read_all_stats (pg_monitor) to see other roles' sessions. */
  needsReadAllStats?: boolean;
  thresholds: ThresholdSpec[];
  remediation: RemediationHint | null;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}
