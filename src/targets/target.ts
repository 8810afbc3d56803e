/** A Postgres database that runbooks act on. `url` is a secret: never log or print it. */
export interface Target {
  name: string;
  description?: string;
  url: string;
  /** Separate credentials for remediations; diagnostics always use `url`. */
  remediationUrl?: string;
  /**
   * Why actions cannot run on this target although its checks can: it names a remediation
   * connection whose variable is not set (never silently replaced by the read-only one).
   */
  remediationUnavailable?: string;
  tags: string[];
  settings: TargetSettings;
  /** `check.key` → raw value (e.g. `"8GB"`), validated against the check catalog. */
  thresholdOverrides: Record<string, string>;
  /** Ids of the runbooks this target uses: their alert-threshold tables set its health thresholds. */
  runbooks?: string[];
  /** Where the target was defined, for error messages. */
  source: string;
  /** The targets file it came from, when it did (its source names the entry in it). */
  sourceFile?: string;
  /** The scheduled health check (see src/schedules/healthSchedules.ts); defaults apply when absent. */
  schedule?: TargetSchedule;
  /** Procedures whose checks run on a schedule against this target. */
  procedureSchedules?: ProcedureScheduleEntry[];
}

/**
 * A procedure run on a schedule for this target (see src/schedules/procedureSchedules.ts):
 * `cron` or a daily `at` time, in `tz`, posted to `channel` when its results change.
 */
export interface ProcedureScheduleEntry {
  procedure: string;
  cron?: string;
  /** `HH:MM`, every day. */
  at?: string;
  tz?: string;
  channel?: string;
  enabled?: boolean;
}

/** Per-target overrides of the scheduled health check: cron in `tz`, posted to `channel`. */
export interface TargetSchedule {
  cron?: string;
  tz?: string;
  channel?: string;
  enabled?: boolean;
}

export interface TargetSettings {
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  poolMax: number;
  /** Rows one approved DML action may change (default 1,000); a procedure's `max_rows=` annotation overrides it. */
  maxRows?: number;
  /** DML over `maxRows` may run in batches of at most `maxRows` rows (a procedure's `batched=` overrides it). */
  batchedDml?: boolean;
}

export const DEFAULT_TARGET_SETTINGS: TargetSettings = {
  connectTimeoutMs: 5000,
  statementTimeoutMs: 5000,
  lockTimeoutMs: 1000,
  poolMax: 2,
  maxRows: 1000,
};

/** Every session the bot opens carries this name, so it can exclude itself from findings. */
export const BOT_APPLICATION_NAME = 'runbook-bot';

/** What a person is told when an action on the target is asked for, or undefined when actions can run. */
export function actionsUnavailableText(
  target: Pick<Target, 'name' | 'remediationUnavailable'>,
): string | undefined {
  return target.remediationUnavailable
    ? `Actions cannot run on ${target.name}: ${target.remediationUnavailable}. Its checks still run; set the variable and restart the bot to preview and run actions.`
    : undefined;
}
