import { UserError } from '../errors.js';
import { parseUnitValue, type Unit } from './units.js';

export interface ThresholdSpec {
  key: string;
  unit: Unit;
  default: number;
  description: string;
}

interface HasThresholds {
  id: string;
  thresholds: ThresholdSpec[];
}

/** `check.key` → value, already parsed into the key's unit. */
export type ThresholdOverrides = Record<string, number>;

/**
 * Parses `check.key=value` overrides (from the CLI or a targets file) against the catalog.
 * All problems are reported together, each saying what would be accepted.
 */
export function parseThresholdOverrides(
  entries: Array<[string, string]>,
  catalog: readonly HasThresholds[],
  source: string,
): ThresholdOverrides {
  const overrides: ThresholdOverrides = {};
  const problems: string[] = [];
  for (const [name, raw] of entries) {
    const result = parseOne(name, raw, catalog);
    if (typeof result === 'string') problems.push(`  - ${name}: ${result}`);
    else overrides[name] = result;
  }
  if (problems.length > 0) throw new UserError(`Invalid threshold in ${source}:\n${problems.join('\n')}`);
  return overrides;
}

/** `--threshold id.key=VALUE` strings into entries; a missing `=` is reported clearly. */
export function splitAssignments(assignments: string[]): Array<[string, string]> {
  return assignments.map((assignment) => {
    const eq = assignment.indexOf('=');
    if (eq <= 0) {
      throw new UserError(
        `--threshold "${assignment}" should look like CHECK.KEY=VALUE, for example connections.warn=100`,
      );
    }
    return [assignment.slice(0, eq).trim(), assignment.slice(eq + 1).trim()];
  });
}

function parseOne(name: string, raw: string, catalog: readonly HasThresholds[]): number | string {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'should be CHECK.KEY, for example connections.warn';
  const checkId = name.slice(0, dot);
  const key = name.slice(dot + 1);
  const check = catalog.find((candidate) => candidate.id === checkId);
  if (!check) return `unknown check "${checkId}" (run \`runbook-bot checks\` for the list)`;
  const spec = check.thresholds.find((candidate) => candidate.key === key);
  if (!spec) {
    const keys = check.thresholds.map((candidate) => candidate.key);
    return keys.length > 0
      ? `check ${checkId} has no threshold "${key}"; it has: ${keys.join(', ')}`
      : `check ${checkId} has no thresholds`;
  }
  const value = parseUnitValue(raw, spec.unit);
  return typeof value === 'number' ? value : value.error;
}

/** The thresholds a check runs with: its defaults, then each override layer in order. */
export function resolveThresholds(
  check: HasThresholds,
  layers: readonly ThresholdOverrides[],
): Record<string, number> {
  const resolved: Record<string, number> = {};
  for (const spec of check.thresholds) {
    let value = spec.default;
    for (const layer of layers) {
      const override = layer[`${check.id}.${spec.key}`];
      if (override !== undefined) value = override;
    }
    resolved[spec.key] = value;
  }
  return resolved;
}

/**
 * How a threshold compares, as a runbook writes it: `> 60` fires above 60, `>= 60` at 60.
 * Built-in and configured thresholds compare as their check always has (`>=` for higher is
 * worse, `<` for lower is worse); only a runbook's threshold table brings its own operator.
 */
export type ThresholdOperator = '>' | '>=' | '<' | '<=';

/** Thresholds a runbook's table sets for a target: values and the operator each was written with. */
export interface RunbookThresholdLayer {
  values: ThresholdOverrides;
  operators: Record<string, ThresholdOperator>;
  /** `check.key` → where it was written, e.g. `timothie-database-operations line 187`. */
  sources: Record<string, string>;
}

/**
 * The operators a check compares with: a runbook's, for each threshold whose value still
 * comes from that runbook (a target or CLI override of the same key brings back the default).
 */
export function resolveOperators(
  check: HasThresholds,
  runbook: RunbookThresholdLayer | undefined,
  laterLayers: readonly ThresholdOverrides[],
): Record<string, ThresholdOperator> {
  const operators: Record<string, ThresholdOperator> = {};
  if (!runbook) return operators;
  for (const spec of check.thresholds) {
    const name = `${check.id}.${spec.key}`;
    const operator = runbook.operators[name];
    if (operator === undefined) continue;
    if (laterLayers.some((layer) => layer[name] !== undefined)) continue;
    operators[spec.key] = operator;
  }
  return operators;
}

/** Whether `value` crosses `threshold` compared with `operator`. */
export function crosses(value: number, threshold: number, operator: ThresholdOperator): boolean {
  switch (operator) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
  }
}
