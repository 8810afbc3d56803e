import { z } from 'zod';
import type { RunbookIncidentPolicy } from '../runbooks/model.js';
import { parseDurationPhrase } from '../timeInput.js';
import { SEVERITIES, SEVERITY_LABEL, type Severity } from './model.js';

/**
 * How an organisation answers each severity: its response target, whether it pages, its
 * staged milestones, and who it escalates to, level after level. Each comes from the first
 * that says it: the `incidents:` section of the policy file, then the severity table and
 * milestones of the runbook the incident is about (or of the team's runbooks), then the
 * built-in defaults. The domain holds Slack user group ids (`S…`); only src/slack writes
 * them as mentions.
 */

export interface Milestone {
  /** After the declaration; 0 is posted when the incident opens. */
  atMs: number;
  text: string;
}

export interface SeverityRule {
  label: string;
  /** 0: "immediate". */
  responseMs: number;
  /** Whether a configured pager (PagerDuty, Opsgenie) is triggered at this severity. */
  page: boolean;
  milestones: Milestone[];
  /**
   * How often the commander is reminded to post a status; absent, never. The severity's own
   * `status_reminder`, else INCIDENT_STATUS_REMINDER_MINUTES for a severity that pages.
   */
  statusReminderMs?: number;
  /** Where the response target came from; the root message says so ("7 min (runbook)"). */
  source: 'policy file' | 'runbook' | 'built-in';
}

export interface EscalationLevel {
  name: string;
  /** Slack user group ids mentioned when the incident reaches this level. */
  groups: string[];
  /** How long after the level before it this level is reached; default: the response target. */
  afterMs?: number;
}

/** The built-in table: the seeds' usual response times; P0 and P1 page. */
const BUILT_IN: Record<Severity, Omit<SeverityRule, 'label' | 'source' | 'milestones'>> = {
  P0: { responseMs: 15 * 60_000, page: true },
  P1: { responseMs: 60 * 60_000, page: true },
  P2: { responseMs: 4 * 60 * 60_000, page: false },
  P3: { responseMs: 24 * 60 * 60_000, page: false },
};

/** INCIDENT_STATUS_REMINDER_MINUTES when unset. */
export const DEFAULT_STATUS_REMINDER_MS = 30 * 60_000;

/** The path without any configuration: seed 002's contact matrix. */
export const DEFAULT_ESCALATION = ['On-call engineer', 'Tech lead', 'CTO'];

/**
 * Escalations come at least this long apart, so an "Immediate" response target escalates
 * after five minutes unanswered rather than at the moment it is declared.
 */
export const MIN_ESCALATION_STEP_MS = 5 * 60_000;

// The policy file's `incidents:` section.

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value * 60_000 : parseDurationPhrase(value);
  if (ms === undefined || ms < 0 || ms > 30 * 86_400_000) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a duration: write "immediate", "5 minutes", "1h", "2 days" or a number of minutes`,
    });
    return z.NEVER;
  }
  return ms;
});

const severityName = z.enum(SEVERITIES as [Severity, ...Severity[]], {
  error: 'must be one of P0, P1, P2, P3',
});
const groupId = z
  .string()
  .regex(
    /^S[A-Z0-9]{2,}$/,
    'must be a Slack user group id such as S0123ABCD (the group\'s profile, "Copy group ID"), not its @handle',
  );

const levelSchema = z
  .object({
    name: z.string().min(1).max(80),
    groups: z.array(groupId).max(10).default([]),
    after: duration.optional(),
    /** Only incidents of these severities reach this level ("Page database admin (P0 only)"). */
    severities: z.array(severityName).min(1).optional(),
  })
  .strict();

const severitySchema = z
  .object({
    label: z.string().min(1).max(40).optional(),
    response: duration.optional(),
    page: z.boolean().optional(),
    milestones: z
      .array(z.object({ after: duration, say: z.string().min(1).max(300) }).strict())
      .max(20)
      .optional(),
    /**
     * How often to remind the commander to post a status, or false for never; default:
     * INCIDENT_STATUS_REMINDER_MINUTES if the severity pages, else never.
     */
    status_reminder: z
      .union([
        z.literal(false),
        duration.refine((ms) => ms >= 60_000, {
          message:
            'a status reminder comes at most every minute: write "15 minutes", "1h", or false for none',
        }),
      ])
      .optional(),
    /** This severity's own escalation path, instead of the section's `escalation`. */
    escalation: z.array(levelSchema).min(1).max(10).optional(),
  })
  .strict();

export const incidentPolicySchema = z
  .object({
    severities: z
      .record(z.string().regex(/^P[0-3]$/, 'a severity is one of P0, P1, P2, P3'), severitySchema)
      .transform((rules) => rules as Partial<Record<Severity, z.output<typeof severitySchema>>>)
      .optional(),
    escalation: z.array(levelSchema).min(1).max(10).optional(),
  })
  .strict();

/** The `incidents:` section as validated (durations in ms). */
export type ConfiguredIncidentPolicy = z.output<typeof incidentPolicySchema>;
type ConfiguredLevel = z.output<typeof levelSchema>;

/** Both halves of the configuration a rule is resolved from. */
export interface IncidentPolicySettings {
  /** The policy file's `incidents:` section; empty without one. */
  policy: ConfiguredIncidentPolicy;
  /** `INCIDENT_ESCALATION`, names only: the path when the policy file gives none. */
  escalationNames: string[];
  /** INCIDENT_STATUS_REMINDER_MINUTES: the reminder of severities that page and set none of their own. */
  statusReminderMs?: number;
}

/** The rule of one severity: the policy file first, then the runbook's table, then the built-in. */
export function severityRule(
  settings: Pick<IncidentPolicySettings, 'policy' | 'statusReminderMs'>,
  runbook: RunbookIncidentPolicy | undefined,
  severity: Severity,
): SeverityRule {
  const configured = settings.policy.severities?.[severity];
  const row = runbook?.severities.find((candidate) => candidate.severity === severity);
  const runbookMilestones = (runbook?.milestones ?? [])
    .filter((milestone) => milestone.severity === severity)
    .map(({ atMs, text }) => ({ atMs, text }));
  const milestones = configured?.milestones
    ? configured.milestones.map(({ after, say }) => ({ atMs: after, text: say }))
    : runbookMilestones;
  const page = configured?.page ?? row?.page ?? BUILT_IN[severity].page;
  // A severity that pages has someone working it who owes the channel a status.
  const reminder =
    configured?.status_reminder ?? (page ? (settings.statusReminderMs ?? DEFAULT_STATUS_REMINDER_MS) : false);
  return {
    label: configured?.label ?? row?.label ?? SEVERITY_LABEL[severity],
    responseMs: configured?.response ?? row?.responseMs ?? BUILT_IN[severity].responseMs,
    page,
    milestones: [...milestones].sort((a, b) => a.atMs - b.atMs),
    ...(reminder !== false ? { statusReminderMs: reminder } : {}),
    source: configured?.response !== undefined ? 'policy file' : row ? 'runbook' : 'built-in',
  };
}

/** Where an escalation path came from; the root message says so unless built in. */
export type EscalationSource = 'policy file' | 'configuration' | 'runbook' | 'built-in';

/**
 * The levels an incident of `severity` goes through, first (where it starts) to last, and
 * where they came from: the severity's own path in the policy file, else the section's,
 * else `INCIDENT_ESCALATION`'s names (configuration), else the escalation path of the incident's runbook,
 * else the built-in one. Levels kept for other severities ("(P0 only)") are left out.
 */
export function escalationPath(
  settings: IncidentPolicySettings,
  severity: Severity,
  runbook?: RunbookIncidentPolicy,
): { path: EscalationLevel[]; source: EscalationSource } {
  const levels: ConfiguredLevel[] | undefined =
    settings.policy.severities?.[severity]?.escalation ?? settings.policy.escalation;
  const forSeverity = (level: { severities?: readonly Severity[] }) =>
    !level.severities || level.severities.includes(severity);
  if (levels) {
    const path = levels.filter(forSeverity).map((level) => ({
      name: level.name,
      groups: level.groups,
      ...(level.after !== undefined ? { afterMs: level.after } : {}),
    }));
    return { path, source: 'policy file' };
  }
  const named = (names: string[]) => names.map((name) => ({ name, groups: [] }));
  if (settings.escalationNames.length > 0)
    return { path: named(settings.escalationNames), source: 'configuration' };
  const written = runbook?.escalation?.filter(forSeverity);
  if (written && written.length > 0)
    return { path: named(written.map((level) => level.name)), source: 'runbook' };
  return { path: named(DEFAULT_ESCALATION), source: 'built-in' };
}

/**
 * When each level after the first is reached, in ms after the declaration: each level its
 * `after` past the one before, by default the response target (at least five minutes), so
 * the second level is told when the response target passes unanswered, as before.
 */
export function escalationSchedule(
  rule: Pick<SeverityRule, 'responseMs'>,
  path: EscalationLevel[],
): number[] {
  const step = Math.max(rule.responseMs, MIN_ESCALATION_STEP_MS);
  const due: number[] = [];
  let at = 0;
  for (const level of path.slice(1)) {
    at += level.afterMs ?? step;
    due.push(at);
  }
  return due;
}
