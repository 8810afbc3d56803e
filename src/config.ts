import { statSync } from 'node:fs';
import { z } from 'zod';
import { loadPolicyFile, type PolicyFile } from './approvals/policy.js';
import { CHANNEL_ID } from './channelId.js';
import { ConfigError } from './errors.js';
import { formatZodIssues } from './formatIssues.js';
import { HEALTH_CHECKS } from './health/catalog.js';
import { DEFAULT_BUDGET_MS, DEFAULT_EVIDENCE_LIMIT } from './health/engine.js';
import { DEFAULT_FLEET_CONCURRENCY } from './health/fleet.js';
import { assertThresholdOrder, targetThresholdLayers } from './health/thresholds.js';
import type { PagerSettings } from './incidents/pager.js';
import { DEFAULT_STATUS_REMINDER_MS, type IncidentPolicySettings } from './incidents/severityPolicy.js';
import { type HealthScheduleDefaults, healthScheduleDefaults } from './schedules/healthSchedules.js';
import { DEFAULT_SHUTDOWN_WATCHDOG_MS } from './service/shutdownWatchdog.js';
import { STRANDED_RUN_SWEEP, type StrandedRunSweep } from './service/strandedRuns.js';
import { DEFAULT_CONNECTION_BUDGET } from './targets/connectionBudget.js';
import { loadTargetRegistry, type TargetRegistry } from './targets/registry.js';
import { isPostgresUrl } from './targets/targetsFile.js';
import { isTimeZone } from './timeInput.js';

/*
 * The one place the environment is read. Every variable is declared in one of the schemas
 * below (ENVIRONMENT_VARIABLES lists them, docs/configuration.md documents each, and a test
 * keeps the two equal); other modules get typed values from the loaders here. The only
 * names not declared are the ones a targets file gives (`url_env`), looked up through
 * `variable` below.
 */

/** One schema's variables, or a ConfigError naming every bad one. */
function parseEnvironment<Schema extends z.ZodType>(
  schema: Schema,
  env: NodeJS.ProcessEnv,
): z.output<Schema> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`Invalid environment:\n${formatZodIssues(parsed.error)}`);
  return parsed.data;
}

const logLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional();

const envSchema = z.object({
  LOG_LEVEL: logLevelSchema,
  TARGETS_FILE: z.string().optional(),
  TARGET_DATABASE_URL: z.string().optional(),
  TARGET_NAME: z.string().optional(),
  HEALTH_BUDGET_MS: z.coerce.number().int().min(500).max(300_000).default(DEFAULT_BUDGET_MS),
  HEALTH_EVIDENCE_ROWS: z.coerce.number().int().min(1).max(100).default(DEFAULT_EVIDENCE_LIMIT),
  FLEET_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(DEFAULT_FLEET_CONCURRENCY),
  TARGET_CONNECTION_BUDGET: z.coerce.number().int().min(1).max(1000).default(DEFAULT_CONNECTION_BUDGET),
  RUNBOOKS_DIR: z
    .string()
    .min(1)
    .optional()
    .refine(
      (dir) => dir === undefined || isDirectory(dir),
      'must be an existing directory of Markdown runbooks',
    ),
});

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export interface AppConfig {
  logLevel?: string;
  targets: TargetRegistry;
  health: { budgetMs: number; evidenceLimit: number };
  /**
   * Targets a fleet run (`health --all`, `/runbook health all`) checks at once: each on one
   * connection closed after its run, so at most this many target connections are open (and
   * never more than connectionBudget).
   */
  fleetConcurrency: number;
  /**
   * Target connections one process (a worker, the CLI) keeps open at most, across everything
   * it does: runs wait in line for a slot beyond it (see targets/connectionBudget.ts).
   */
  connectionBudget: number;
  /** A team's own runbooks, loaded after the built-in ones. */
  runbooksDir?: string;
}

/**
 * All configuration, validated up front: a bad variable or targets file stops start-up with
 * a message naming it, instead of failing on the first command at 3 AM.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const data = parseEnvironment(envSchema, env);
  const targets = loadTargetRegistry(
    { targetsFile: data.TARGETS_FILE, databaseUrl: data.TARGET_DATABASE_URL, name: data.TARGET_NAME },
    (name) => env[name],
  );
  for (const target of targets.list()) {
    // Threshold names and values in a targets file are checked now, not at the first run; so
    // is their order, unless the target's runbooks set thresholds too (checked once loaded).
    const layers = targetThresholdLayers(target, HEALTH_CHECKS);
    if (!target.runbooks?.length) assertThresholdOrder(HEALTH_CHECKS, layers);
  }
  return {
    logLevel: data.LOG_LEVEL,
    targets,
    health: { budgetMs: data.HEALTH_BUDGET_MS, evidenceLimit: data.HEALTH_EVIDENCE_ROWS },
    fleetConcurrency: data.FLEET_CONCURRENCY,
    connectionBudget: data.TARGET_CONNECTION_BUDGET,
    runbooksDir: data.RUNBOOKS_DIR,
  };
}

const listSchema = z
  .string()
  .optional()
  .transform((value) =>
    value
      ?.split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

const serviceEnvSchema = z.object({
  DATABASE_URL: z.string().refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL').optional(),
  REDIS_URL: z.string().optional(),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  SLACK_BOT_TOKEN: z.string().startsWith('xoxb-', 'must be a bot token (xoxb-…)').optional(),
  SLACK_SIGNING_SECRET: z.string().min(8).optional(),
  SLACK_APP_TOKEN: z.string().startsWith('xapp-', 'must be an app-level token (xapp-…)').optional(),
  SLACK_API_URL: z.string().url().optional(),
  ALLOWED_USERS: listSchema,
  ALLOWED_CHANNELS: listSchema,
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(32),
  JOB_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  // At most 30 s: every process stops within 30 s of SIGTERM, whatever is in flight.
  SHUTDOWN_WATCHDOG_MS: z.coerce.number().int().min(100).max(30_000).default(DEFAULT_SHUTDOWN_WATCHDOG_MS),
  POLICY_FILE: z.string().min(1).optional(),
  INCIDENT_CHANNEL_MODE: z.enum(['create', 'current']).default('create'),
  INCIDENT_CHANNEL_PRIVATE: z.enum(['true', 'false']).default('false'),
  INCIDENT_STATUS_REMINDER_MINUTES: z.coerce
    .number()
    .positive()
    .max(24 * 60)
    .default(DEFAULT_STATUS_REMINDER_MS / 60_000),
  INCIDENT_ESCALATION: listSchema,
  // Empty counts as unset, as for the audit key: `PAGERDUTY_ROUTING_KEY=` turns the pager off.
  PAGERDUTY_ROUTING_KEY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(
        /^[A-Za-z0-9]{32}$/,
        'must be the 32-character Integration Key of a PagerDuty "Events API V2" integration',
      )
      .optional(),
  ),
  PAGERDUTY_EVENTS_URL: z.string().url().default('https://events.pagerduty.com'),
  OPSGENIE_API_KEY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(/^[A-Za-z0-9-]{20,64}$/, 'must be the API key of an Opsgenie "API" integration (a UUID)')
      .optional(),
  ),
  OPSGENIE_API_URL: z
    .string()
    .url('must be https://api.opsgenie.com or, for EU accounts, https://api.eu.opsgenie.com')
    .default('https://api.opsgenie.com'),
  REPORT_TIME_ZONE: z
    .string()
    .default('UTC')
    .refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin or America/New_York'),
  // Checked by healthScheduleDefaults, which names every bad one at once.
  HEALTH_SCHEDULE: z.string().optional(),
  HEALTH_SCHEDULE_TZ: z.string().optional(),
  HEALTH_SCHEDULE_CHANNEL: z.string().optional(),
});

const auditEnvSchema = z.object({
  // Empty counts as unset: `AUDIT_HMAC_KEY=` in an env file must not mean "the empty key".
  AUDIT_HMAC_KEY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.string().min(32, 'must be at least 32 characters (for example: openssl rand -hex 32)').optional(),
  ),
  AUDIT_CHANNEL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.string().regex(CHANNEL_ID, 'must be a Slack channel id such as C0123ABCD').optional(),
  ),
});

/** The audit log's anchors outside the database (see AuditLog.verify). */
export interface AuditSettings {
  /** AUDIT_HMAC_KEY: keys the chain's hashes and signs checkpoints; never stored in the database. */
  hmacKey?: string;
  /** AUDIT_CHANNEL: where checkpoints of the chain head are posted; none without it. */
  checkpointChannel?: string;
}

/** Read by the service and by `runbook-bot audit verify`, which needs the same key. */
export function loadAuditSettings(env: NodeJS.ProcessEnv = process.env): AuditSettings {
  const data = parseEnvironment(auditEnvSchema, env);
  return { hmacKey: data.AUDIT_HMAC_KEY, checkpointChannel: data.AUDIT_CHANNEL };
}

export interface ServiceConfig extends AppConfig {
  databaseUrl?: string;
  redisUrl?: string;
  port: number;
  slack?: { botToken: string; signingSecret: string; appToken?: string; apiUrl?: string };
  access: { users?: string[]; channels?: string[] };
  workerConcurrency: number;
  /** How long a job stays claimed without renewal: a dead worker's job is taken over after about this. */
  jobLockMs: number;
  /** How long a graceful stop may take before the process exits, abandoning what is in flight. */
  shutdownWatchdogMs: number;
  /** Who may request and approve remediations; the built-in defaults without it. */
  policy: PolicyFile;
  incidents: IncidentSettings;
  /** Scheduled health checks: default cron, zone and channel (targets may override). */
  healthSchedule: HealthScheduleDefaults;
  /** How workers find and queue again the runs the queue lost. */
  recoverySweep: StrandedRunSweep;
  audit: AuditSettings;
}

/**
 * Severities, milestones and escalation levels (`policy`: the policy file's `incidents:`
 * section; `escalationNames`: INCIDENT_ESCALATION), and where incidents are worked.
 */
export interface IncidentSettings extends IncidentPolicySettings {
  /** `create`: a channel per incident; `current`: work in the channel it was declared in. */
  channelMode: 'create' | 'current';
  privateChannels: boolean;
  /** Severities that page and set no `status_reminder` of their own remind the commander this often. */
  statusReminderMs: number;
  timeZone: string;
  /** PagerDuty and Opsgenie, each when its key is set. */
  pager: PagerSettings;
}

/** Configuration of the long-running processes. Every mode posts to Slack; bot and all also receive from it. */
export function loadServiceConfig(
  env: NodeJS.ProcessEnv | undefined,
  options: { mode: 'bot' | 'worker' | 'all' },
): ServiceConfig {
  env ??= process.env;
  const base = loadConfig(env);
  const data = parseEnvironment(serviceEnvSchema, env);
  const receives = options.mode !== 'worker';
  const missing = [
    !data.SLACK_BOT_TOKEN && 'SLACK_BOT_TOKEN',
    receives &&
      !data.SLACK_SIGNING_SECRET &&
      !data.SLACK_APP_TOKEN &&
      'SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new ConfigError(
      `The bot needs ${missing.join(' and ')}. Create the app from manifest.yml and copy them from its settings page.`,
    );
  }
  const policy = loadPolicyFile(data.POLICY_FILE);
  if (policy.incidents?.escalation && data.INCIDENT_ESCALATION?.length) {
    throw new ConfigError(
      `INCIDENT_ESCALATION and the escalation levels of POLICY_FILE ${data.POLICY_FILE} (incidents.escalation) both name the escalation path: keep one (the policy file's levels can carry user groups).`,
    );
  }
  const apiUrl = slashed(data.SLACK_API_URL);
  return {
    ...base,
    databaseUrl: data.DATABASE_URL,
    redisUrl: data.REDIS_URL,
    port: data.PORT,
    slack: data.SLACK_BOT_TOKEN
      ? {
          botToken: data.SLACK_BOT_TOKEN,
          signingSecret: data.SLACK_SIGNING_SECRET ?? '',
          appToken: data.SLACK_APP_TOKEN,
          apiUrl,
        }
      : undefined,
    access: { users: data.ALLOWED_USERS, channels: data.ALLOWED_CHANNELS },
    workerConcurrency: data.WORKER_CONCURRENCY,
    jobLockMs: data.JOB_LOCK_MS,
    shutdownWatchdogMs: data.SHUTDOWN_WATCHDOG_MS,
    policy,
    healthSchedule: healthScheduleDefaults({
      cron: data.HEALTH_SCHEDULE,
      tz: data.HEALTH_SCHEDULE_TZ,
      channel: data.HEALTH_SCHEDULE_CHANNEL,
    }),
    recoverySweep: STRANDED_RUN_SWEEP,
    audit: loadAuditSettings(env),
    incidents: incidentSettingsOf(data, policy),
  };
}

type ServiceEnv = z.infer<typeof serviceEnvSchema>;

function incidentSettingsOf(data: ServiceEnv, policy: PolicyFile): IncidentSettings {
  return {
    channelMode: data.INCIDENT_CHANNEL_MODE,
    privateChannels: data.INCIDENT_CHANNEL_PRIVATE === 'true',
    statusReminderMs: data.INCIDENT_STATUS_REMINDER_MINUTES * 60_000,
    escalationNames: data.INCIDENT_ESCALATION ?? [],
    policy: policy.incidents ?? {},
    timeZone: data.REPORT_TIME_ZONE,
    pager: {
      ...(data.PAGERDUTY_ROUTING_KEY
        ? { pagerduty: { routingKey: data.PAGERDUTY_ROUTING_KEY, url: data.PAGERDUTY_EVENTS_URL } }
        : {}),
      ...(data.OPSGENIE_API_KEY
        ? { opsgenie: { apiKey: data.OPSGENIE_API_KEY, url: data.OPSGENIE_API_URL } }
        : {}),
    },
  };
}

/**
 * The incident settings the bot runs with, for the CLI's `incident` commands: the same
 * variables and POLICY_FILE, without the Slack credentials a server process needs.
 */
export function loadIncidentSettings(env: NodeJS.ProcessEnv = process.env): {
  incidents: IncidentSettings;
  redisUrl?: string;
} {
  const data = parseEnvironment(serviceEnvSchema, env);
  return { incidents: incidentSettingsOf(data, loadPolicyFile(data.POLICY_FILE)), redisUrl: data.REDIS_URL };
}

/**
 * The log level of a server process before the rest of its configuration is read, so that a
 * failed start-up is logged too; a bad LOG_LEVEL is then reported by loadConfig, by name.
 */
export function startupLogLevel(env: NodeJS.ProcessEnv = process.env): string {
  const parsed = logLevelSchema.safeParse(env.LOG_LEVEL);
  return (parsed.success && parsed.data) || 'info';
}

const terminalEnvSchema = z.object({
  // Read as the commands that need it read it: unset is an error only for them.
  DATABASE_URL: z.string().optional(),
  // Not checked here: `report --tz` overrides it, and the result is checked there.
  REPORT_TIME_ZONE: z.string().optional(),
  // https://no-color.org: any value but the empty string turns colour off.
  NO_COLOR: z.string().optional(),
  // Optional here: with it, the CLI names people as Slack does (users.info).
  SLACK_BOT_TOKEN: z.string().startsWith('xoxb-', 'must be a bot token (xoxb-…)').optional(),
  SLACK_API_URL: z.string().url().optional(),
});

export interface TerminalSettings {
  stateDatabaseUrl?: string;
  reportTimeZone?: string;
  noColor: boolean;
  /** To look up people's names; the CLI shows Slack user ids without it. */
  slack?: { botToken: string; apiUrl?: string };
}

/** Slack's Web API base URL with the trailing slash the client needs. */
function slashed(url: string | undefined): string | undefined {
  return url && !url.endsWith('/') ? `${url}/` : url;
}

/** What the `runbook-bot` CLI reads beyond loadConfig: the state database, the report zone, colour. */
export function loadTerminalSettings(env: NodeJS.ProcessEnv = process.env): TerminalSettings {
  const data = parseEnvironment(terminalEnvSchema, env);
  return {
    stateDatabaseUrl: data.DATABASE_URL || undefined,
    reportTimeZone: data.REPORT_TIME_ZONE,
    noColor: Boolean(data.NO_COLOR),
    ...(data.SLACK_BOT_TOKEN
      ? { slack: { botToken: data.SLACK_BOT_TOKEN, apiUrl: slashed(data.SLACK_API_URL) } }
      : {}),
  };
}

const DEFAULT_CONSOLE_PORT = 3100;

const demoEnvSchema = z.object({ LOG_LEVEL: logLevelSchema, CONSOLE_PORT: z.string().optional() });

/** Settings a person trying the demo may still give its bot; everything else is the demo's. */
const DEMO_PASSED_THROUGH = [
  'LOG_LEVEL',
  'RUNBOOKS_DIR',
  'POLICY_FILE',
  'REPORT_TIME_ZONE',
  'REDIS_URL',
] as const;

export interface DemoSettings {
  /** 0: a free port. */
  consolePort: number;
  logLevel: string;
  /** The few variables passed on to the demo's bot (its loadServiceConfig reads them). */
  botEnv: Partial<Record<(typeof DEMO_PASSED_THROUGH)[number], string>>;
}

/** `npm run demo`: the console's port (a free one for `--check`) and the demo's quieter log level. */
export function loadDemoSettings(
  options: { check: boolean },
  env: NodeJS.ProcessEnv = process.env,
): DemoSettings {
  const data = parseEnvironment(demoEnvSchema, env);
  const raw = data.CONSOLE_PORT;
  // Empty is unset (Number('') would be 0: a random port, silently).
  const consolePort = Number(raw || (options.check ? 0 : DEFAULT_CONSOLE_PORT));
  if (!Number.isInteger(consolePort) || consolePort < 0 || consolePort > 65_535) {
    throw new ConfigError(`CONSOLE_PORT must be a port number (0-65535), not "${raw}".`);
  }
  const botEnv: DemoSettings['botEnv'] = {};
  for (const name of DEMO_PASSED_THROUGH) if (env[name] !== undefined) botEnv[name] = env[name];
  return { consolePort, logLevel: data.LOG_LEVEL ?? 'warn', botEnv };
}

/** Every variable the loaders above read, for docs/configuration.md and its test. */
export const ENVIRONMENT_VARIABLES: readonly string[] = [
  ...new Set(
    [envSchema, serviceEnvSchema, auditEnvSchema, terminalEnvSchema, demoEnvSchema].flatMap((schema) =>
      Object.keys(schema.shape),
    ),
  ),
].sort();
