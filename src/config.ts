import { z } from 'zod';
import { ConfigError } from './errors.js';
import { formatZodIssues } from './formatIssues.js';
import { HEALTH_CHECKS } from './runbooks/health/catalog.js';
import { DEFAULT_BUDGET_MS, DEFAULT_EVIDENCE_LIMIT } from './runbooks/health/engine.js';
import { parseThresholdOverrides } from './runbooks/health/thresholds.js';
import { loadTargetRegistry, type TargetRegistry } from './targets/registry.js';

const envSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  HEALTH_BUDGET_MS: z.coerce.number().int().min(500).max(300_000).default(DEFAULT_BUDGET_MS),
  HEALTH_EVIDENCE_ROWS: z.coerce.number().int().min(1).max(100).default(DEFAULT_EVIDENCE_LIMIT),
});

export interface AppConfig {
  logLevel?: string;
  targets: TargetRegistry;
  health: { budgetMs: number; evidenceLimit: number };
}

/**
 * All configuration, validated up front: a bad variable or targets file stops start-up with
 * a message naming it, instead of failing on the first command at 3 AM.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`Invalid environment:\n${formatZodIssues(parsed.error)}`);
  const targets = loadTargetRegistry(env);
  for (const target of targets.list()) {
    // Threshold names and values in a targets file are checked now, not at the first run.
    parseThresholdOverrides(Object.entries(target.thresholdOverrides), HEALTH_CHECKS, target.source);
  }
  return {
    logLevel: parsed.data.LOG_LEVEL,
    targets,
    health: { budgetMs: parsed.data.HEALTH_BUDGET_MS, evidenceLimit: parsed.data.HEALTH_EVIDENCE_ROWS },
  };
}
