import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CHANNEL_ID } from '../channelId.js';
import { ConfigError } from '../errors.js';
import { formatZodIssues } from '../formatIssues.js';
import { yaml } from '../util/yaml.js';
import { DEFAULT_TARGET_SETTINGS, type Target, type TargetSettings } from './target.js';

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const TARGET_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const envVarName = z
  .string()
  .regex(ENV_NAME, 'must be the NAME of an environment variable (e.g. PROD_DATABASE_URL), not a URL');

const settingsSchema = {
  connect_timeout_ms: z.number().int().min(100).max(60_000).optional(),
  statement_timeout_ms: z.number().int().min(100).max(600_000).optional(),
  lock_timeout_ms: z.number().int().min(10).max(600_000).optional(),
  pool_max: z.number().int().min(1).max(20).optional(),
  max_rows: z.number().int().min(1).max(1_000_000).optional(),
  batched_dml: z.boolean().optional(),
};

const thresholdsSchema = z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).optional();

/** Checked for meaning (cron syntax, IANA zone) when the schedules are synced at start-up. */
const scheduleSchema = z
  .object({
    cron: z.string().min(1).optional(),
    tz: z.string().min(1).optional(),
    channel: z.string().regex(CHANNEL_ID, 'must be a Slack channel id like C0123ABCD').optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .optional();

/** Checked for meaning (procedure id, cron, zone) once the runbooks are loaded at start-up. */
const procedureScheduleSchema = z
  .object({
    procedure: z.string().min(1, 'name the procedure as runbook-id#procedure-id'),
    cron: z.string().min(1).optional(),
    at: z
      .string()
      .regex(/^([01]?\d|2[0-3]):[0-5]\d$/, 'must be a time of day as HH:MM, e.g. "09:00" or "18:00"')
      .optional(),
    tz: z.string().min(1).optional(),
    channel: z.string().regex(CHANNEL_ID, 'must be a Slack channel id like C0123ABCD').optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((entry) => (entry.cron === undefined) !== (entry.at === undefined), {
    message: 'give either cron ("0 9 * * 1-5") or at ("09:00"), not both and not neither',
  });

/** What `tag:<tag>` in Slack and `--tag` on a command line can name. */
export const TAG_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const targetSchema = z
  .object({
    url_env: envVarName,
    remediation_url_env: envVarName.optional(),
    description: z.string().max(200).optional(),
    tags: z
      .array(
        z
          .string()
          .regex(
            TAG_NAME,
            'a tag is letters, digits, ., - and _ (at most 63), starting with a letter or digit, so that `/runbook health tag:<tag>` and `--tag` can name it',
          ),
      )
      .default([]),
    thresholds: thresholdsSchema,
    runbooks: z.array(z.string().min(1, 'runbook ids are not empty')).optional(),
    schedule: scheduleSchema,
    procedure_schedules: z.array(procedureScheduleSchema).optional(),
    ...settingsSchema,
  })
  .strict();

const fileSchema = z
  .object({
    default: z.string().optional(),
    defaults: z.object(settingsSchema).strict().optional(),
    targets: z.record(
      z.string().regex(TARGET_NAME, 'target names are lowercase letters, digits, - and _'),
      targetSchema,
    ),
  })
  .strict();

type SettingsInput = { [K in keyof typeof settingsSchema]?: z.infer<(typeof settingsSchema)[K]> };

function toSettings(base: TargetSettings, input: SettingsInput | undefined): TargetSettings {
  return {
    connectTimeoutMs: input?.connect_timeout_ms ?? base.connectTimeoutMs,
    statementTimeoutMs: input?.statement_timeout_ms ?? base.statementTimeoutMs,
    lockTimeoutMs: input?.lock_timeout_ms ?? base.lockTimeoutMs,
    poolMax: input?.pool_max ?? base.poolMax,
    maxRows: input?.max_rows ?? base.maxRows,
    ...((input?.batched_dml ?? base.batchedDml) ? { batchedDml: true } : {}),
  };
}

export interface TargetsFileContents {
  defaultTarget?: string;
  targets: Target[];
}

/**
 * Reads a targets file. The file names environment variables, never secrets; every
 * problem is reported at once with the file name and the key, so one edit fixes them all.
 */
export function readTargetsFile(
  path: string,
  variable: (name: string) => string | undefined,
): TargetsFileContents {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `TARGETS_FILE ${path} cannot be read (${code ?? 'error'}). Check the path, or unset TARGETS_FILE to use TARGET_DATABASE_URL.`,
    );
  }
  const document = yaml().parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    throw new ConfigError(`${path} is not valid YAML: ${first.message.split('\n')[0]}`);
  }
  const parsed = fileSchema.safeParse(document.toJS() ?? {});
  if (!parsed.success) {
    throw new ConfigError(`${path} is not a valid targets file:\n${formatZodIssues(parsed.error)}`);
  }

  const problems: string[] = [];
  const base = toSettings(DEFAULT_TARGET_SETTINGS, parsed.data.defaults);
  const targets: Target[] = [];
  for (const [name, entry] of Object.entries(parsed.data.targets)) {
    const url = readUrl(variable, entry.url_env, `targets.${name}.url_env`, problems);
    const remediationKey = `targets.${name}.remediation_url_env`;
    // Optional: without its variable the target still runs checks, and says why actions cannot run.
    const remediationUnset = entry.remediation_url_env !== undefined && !variable(entry.remediation_url_env);
    const remediationUrl =
      entry.remediation_url_env && !remediationUnset
        ? readUrl(variable, entry.remediation_url_env, remediationKey, problems)
        : undefined;
    if (url === undefined) continue;
    targets.push({
      name,
      description: entry.description,
      url,
      remediationUrl,
      ...(remediationUnset
        ? {
            remediationUnavailable: `its remediation connection's environment variable ${entry.remediation_url_env} is not set (${remediationKey} in ${path})`,
          }
        : {}),
      tags: entry.tags,
      settings: toSettings(base, entry),
      thresholdOverrides: entry.thresholds ?? {},
      ...(entry.runbooks ? { runbooks: entry.runbooks } : {}),
      source: `${path}: targets.${name}`,
      sourceFile: path,
      ...(entry.schedule ? { schedule: entry.schedule } : {}),
      ...(entry.procedure_schedules ? { procedureSchedules: entry.procedure_schedules } : {}),
    });
  }
  const defaultTarget = parsed.data.default;
  if (defaultTarget !== undefined && !(defaultTarget in parsed.data.targets)) {
    problems.push(
      `  - default: "${defaultTarget}" is not one of the targets (${Object.keys(parsed.data.targets).join(', ')})`,
    );
  }
  if (problems.length > 0)
    throw new ConfigError(`${path} is not a valid targets file:\n${problems.join('\n')}`);
  return { defaultTarget, targets };
}

function readUrl(
  variable: (name: string) => string | undefined,
  name: string,
  key: string,
  problems: string[],
): string | undefined {
  const value = variable(name);
  if (!value) {
    problems.push(`  - ${key}: environment variable ${name} is not set (it should hold the postgres:// URL)`);
    return undefined;
  }
  if (!isPostgresUrl(value)) {
    problems.push(
      `  - ${key}: environment variable ${name} does not hold a postgres:// or postgresql:// URL`,
    );
    return undefined;
  }
  return value;
}

export function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
  } catch {
    return false;
  }
}
