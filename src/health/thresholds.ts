import { UserError } from '../errors.js';
import type { Target } from '../targets/target.js';
import { didYouMean } from '../text.js';
import { formatUnitValue, parseUnitValue, type Unit } from './units.js';

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
  if (!check) {
    const hint = didYouMean(
      checkId,
      catalog.map((candidate) => candidate.id),
    );
    return `unknown check "${checkId}" (${hint ? `${hint} ` : ''}run \`runbook-bot checks\` for the list)`;
  }
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

/** Overrides and where they were written, for messages: `--threshold`, a targets file, a runbook line. */
export interface NamedLayer {
  values: ThresholdOverrides;
  /** Where `check.key` was set in this layer. */
  source: (name: string) => string;
}

/**
 * Warn thresholds that could never fire before their critical one: a warn at or past its
 * critical (`connections.warn=150` with the default critical 80). Which way is worse is read
 * from the defaults (cache hit: lower is worse). Only pairs a layer touched are judged; each
 * problem names both values and where each came from.
 */
export function thresholdOrderProblems(
  catalog: readonly HasThresholds[],
  layers: readonly NamedLayer[],
): string[] {
  const problems: string[] = [];
  for (const check of catalog) {
    for (const warn of check.thresholds.filter((spec) => spec.key.startsWith('warn'))) {
      const critical = check.thresholds.find((spec) => spec.key === warn.key.replace(/^warn/, 'critical'));
      if (!critical) continue;
      const [low, high] = [warn, critical].map((spec) => effectiveValue(check.id, spec, layers));
      if (low!.source === DEFAULT_SOURCE && high!.source === DEFAULT_SOURCE) continue;
      const higherIsWorse = critical.default >= warn.default;
      if (higherIsWorse ? low!.value < high!.value : low!.value > high!.value) continue;
      const [name, criticalName] = [`${check.id}.${warn.key}`, `${check.id}.${critical.key}`];
      const shown = (value: number) => formatUnitValue(value, warn.unit);
      problems.push(
        `${name} ${shown(low!.value)} (${low!.source}) is not ${higherIsWorse ? 'below' : 'above'} ${criticalName} ${shown(high!.value)} (${high!.source}), so it could never warn before it is critical: ` +
          `set ${name} ${higherIsWorse ? 'below' : 'above'} ${shown(high!.value)}, or ${criticalName} ${higherIsWorse ? 'above' : 'below'} ${shown(low!.value)}`,
      );
    }
  }
  return problems;
}

const DEFAULT_SOURCE = 'the default';

/** Refuses thresholds that cannot work together, all of them named at once. */
export function assertThresholdOrder(catalog: readonly HasThresholds[], layers: readonly NamedLayer[]): void {
  const problems = thresholdOrderProblems(catalog, layers);
  if (problems.length > 0)
    throw new UserError(
      `Thresholds that cannot work:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
}

/**
 * The layers a target's checks run with, in order, each named for messages: the runbooks the
 * target uses, then its own (targets file), then the command line's.
 */
export function targetThresholdLayers(
  target: Pick<Target, 'thresholdOverrides' | 'source'>,
  catalog: readonly HasThresholds[],
  runbook?: RunbookThresholdLayer,
  commandLine: ThresholdOverrides = {},
): NamedLayer[] {
  return [
    { values: runbook?.values ?? {}, source: (name) => runbook?.sources[name] ?? 'a runbook' },
    {
      values: parseThresholdOverrides(Object.entries(target.thresholdOverrides), catalog, target.source),
      source: () => `${target.source} thresholds`,
    },
    { values: commandLine, source: () => '--threshold' },
  ];
}

function effectiveValue(
  checkId: string,
  spec: ThresholdSpec,
  layers: readonly NamedLayer[],
): { value: number; source: string } {
  const name = `${checkId}.${spec.key}`;
  let found = { value: spec.default, source: DEFAULT_SOURCE };
  for (const layer of layers) {
    const value = layer.values[name];
    if (value !== undefined) found = { value, source: layer.source(name) };
  }
  return found;
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
