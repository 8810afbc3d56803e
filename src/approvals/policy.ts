import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { formatZodIssues } from '../formatIssues.js';
import { incidentPolicySchema } from '../incidents/severityPolicy.js';
import type { Risk } from '../runbooks/model.js';
import { yaml } from '../util/yaml.js';

/**
 * Who may request and approve remediations, and how many approvals each needs. Defaults,
 * then the `production` overlay for targets tagged production, then every matching rule in
 * file order: the most specific rule is written last and wins.
 */
export interface EffectivePolicy {
  /** Slack user ids (U…) and user group ids (S…); empty means anyone allowed to use the bot. */
  requesters: string[];
  approvers: string[];
  approvals: number;
  /**
   * Whether the requester's or the previewer's own approval counts (never for medium and
   * high risk, whatever a file says).
   */
  selfApproval: boolean;
  expiryMs: number;
  executionWindowMs: number;
}

const principals = z.array(
  z.string().regex(/^[USW][A-Z0-9]+$/, 'a Slack user id (U…) or user group id (S…)'),
);
const perRisk = <T extends z.ZodType>(value: T) =>
  z.object({ low: value.optional(), medium: value.optional(), high: value.optional() }).strict();

const overridesSchema = z
  .object({
    requesters: principals.optional(),
    approvers: principals.optional(),
    approvals: z
      .union([z.number().int().min(1).max(10), perRisk(z.number().int().min(1).max(10))])
      .optional(),
    self_approval: z.union([z.boolean(), perRisk(z.boolean())]).optional(),
    expiry_minutes: z
      .number()
      .positive()
      .max(24 * 60)
      .optional(),
    execution_window_minutes: z
      .number()
      .positive()
      .max(24 * 60)
      .optional(),
  })
  .strict();

const ruleSchema = overridesSchema
  .extend({
    runbook: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
    risk: z.enum(['low', 'medium', 'high']).optional(),
  })
  .strict();

const policyFileSchema = z
  .object({
    defaults: overridesSchema.optional(),
    production: overridesSchema.optional(),
    rules: z.array(ruleSchema).optional(),
    /** Severities, milestones and escalation levels of incidents (incidents/severityPolicy.ts). */
    incidents: incidentPolicySchema.optional(),
  })
  .strict();

export type PolicyFile = z.infer<typeof policyFileSchema>;
type Overrides = z.infer<typeof overridesSchema>;

/** Without a policy file: one approval, two on production for medium and high; never your own. */
const DEFAULT_POLICY: PolicyFile = {
  defaults: {
    approvals: 1,
    self_approval: { low: true, medium: false, high: false },
    expiry_minutes: 15,
    execution_window_minutes: 10,
  },
  production: { approvals: { medium: 2, high: 2 } },
};

export function loadPolicyFile(path: string | undefined): PolicyFile {
  if (!path) return DEFAULT_POLICY;
  let raw: unknown;
  try {
    raw = yaml().parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`POLICY_FILE ${path}: cannot read it as YAML: ${(err as Error).message}`);
  }
  const parsed = policyFileSchema.safeParse(raw ?? {});
  if (!parsed.success)
    throw new ConfigError(`POLICY_FILE ${path} is invalid:\n${formatZodIssues(parsed.error)}`);
  // The file refines the built-in defaults rather than replacing them wholesale.
  return {
    defaults: { ...DEFAULT_POLICY.defaults, ...parsed.data.defaults },
    production: parsed.data.production ?? DEFAULT_POLICY.production,
    rules: parsed.data.rules,
    incidents: parsed.data.incidents,
  };
}

export function effectivePolicy(
  file: PolicyFile,
  subject: { runbook: string; target: string; targetTags: string[]; risk: Risk },
): EffectivePolicy {
  const layers: Overrides[] = [file.defaults ?? {}];
  if (subject.targetTags.includes('production') && file.production) layers.push(file.production);
  for (const rule of file.rules ?? []) {
    if (rule.runbook && rule.runbook !== subject.runbook) continue;
    if (rule.target && rule.target !== subject.target) continue;
    if (rule.risk && rule.risk !== subject.risk) continue;
    layers.push(rule);
  }
  const policy: EffectivePolicy = {
    requesters: [],
    approvers: [],
    approvals: 1,
    selfApproval: subject.risk === 'low',
    expiryMs: 15 * 60_000,
    executionWindowMs: 10 * 60_000,
  };
  for (const layer of layers) {
    if (layer.requesters) policy.requesters = layer.requesters;
    if (layer.approvers) policy.approvers = layer.approvers;
    const approvals = pick(layer.approvals, subject.risk);
    if (approvals !== undefined) policy.approvals = approvals;
    const self = pick(layer.self_approval, subject.risk);
    if (self !== undefined) policy.selfApproval = self;
    if (layer.expiry_minutes) policy.expiryMs = layer.expiry_minutes * 60_000;
    if (layer.execution_window_minutes) policy.executionWindowMs = layer.execution_window_minutes * 60_000;
  }
  // Medium and high risk are never approved by the person who asked, whatever a file says.
  if (subject.risk !== 'low') policy.selfApproval = false;
  return policy;
}

/**
 * Why `user` may not approve a request they had a hand in, or undefined when they may.
 * "Two people" means two people: whoever chose the plan and typed its values (the previewer)
 * counts as its author as much as whoever pressed "Request approval", or Alice previews,
 * Bob requests, and Alice approves her own plan.
 */
export function selfApprovalRefusal(
  policy: Pick<EffectivePolicy, 'selfApproval'>,
  request: Authors,
  user: string,
): string | undefined {
  if (policy.selfApproval) return undefined;
  if (request.requestedBy === user)
    return `You requested this ${request.risk}-risk action; someone else must approve it.`;
  if (request.previewedBy === user)
    return `You previewed this ${request.risk}-risk action (you chose its plan and values); someone else must approve it.`;
  return undefined;
}

function pick<T>(value: T | { low?: T; medium?: T; high?: T } | undefined, risk: Risk): T | undefined {
  if (value !== null && typeof value === 'object' && ('low' in value || 'medium' in value || 'high' in value))
    return (value as Record<Risk, T | undefined>)[risk];
  return value as T | undefined;
}

/** The people a request was made by: whoever previewed its plan, and whoever asked for approval. */
type Authors = { risk: Risk; requestedBy: string | null; previewedBy: string };

/** Why `user` may not act on a request under `policy`; undefined when they may. */
export type MayAct = (
  policy: EffectivePolicy,
  request: Authors,
  user: string,
  members: GroupMembers,
) => Promise<string | undefined>;

/** Why `user` may not ask for approval of a request under `policy`; undefined when they may. */
export const mayRequest: MayAct = async (policy, _request, user, members) => {
  if (await isAllowed(policy.requesters, user, members)) return undefined;
  return 'You are not allowed to request this action (see the approval policy).';
};

/** Why `user` may not approve the request under `policy` (not an approver, or their own plan); undefined when they may. */
export const mayApprove: MayAct = async (policy, request, user, members) => {
  if (!(await isAllowed(policy.approvers, user, members)))
    return 'You are not on the list of approvers for this action.';
  return selfApprovalRefusal(policy, request, user);
};

/** Why `user` may not reject the request: only its approvers and whoever asked for it may. */
export const mayReject: MayAct = async (policy, request, user, members) => {
  if (request.requestedBy === user || request.previewedBy === user) return undefined;
  if (await isAllowed(policy.approvers, user, members)) return undefined;
  return 'Only an approver or the requester can reject this.';
};

/** Resolves Slack user group ids to their members (cached by the Slack adapter). */
export type GroupMembers = (groupId: string) => Promise<string[]>;

/** Whether `user` is one of `principals` (empty: everyone), expanding user groups. */
export async function isAllowed(
  principalsList: string[],
  user: string,
  members: GroupMembers,
): Promise<boolean> {
  if (principalsList.length === 0 || principalsList.includes(user)) return true;
  for (const principal of principalsList) {
    if (principal.startsWith('S') && (await members(principal)).includes(user)) return true;
  }
  return false;
}
