/**
 * A runbook's alert-threshold table as health thresholds. A target uses a runbook by naming
 * it in its targets-file entry (`runbooks: [timothie-database-operations]`); each row of
 * that runbook's table whose metric a health check measures sets that check's warn and
 * critical thresholds for the target, compared with the row's own operator (`> 60` fires
 * above 60). Rows no check measures, or that cannot be read, are reported by lint.
 */
import type { Runbook, RunbookAlertThreshold } from '../runbooks/model.js';
import type { Target } from '../targets/target.js';
import { HEALTH_CHECKS } from './catalog.js';
import type { RunbookThresholdLayer, ThresholdOperator } from './thresholds.js';
import type { CheckDefinition } from './types.js';
import { parseUnitValue } from './units.js';

interface MetricRule {
  /** Matched against the row's metric text. */
  metric: RegExp;
  /** When set, the row's values must look like this (a `%` picks the share-of-max keys). */
  value?: RegExp;
  check: string;
  warnKey: string;
  criticalKey: string;
  /** Which way is worse: the row's operators must point the same way. */
  worse: 'higher' | 'lower';
}

/** First match wins: the more specific wording comes first. */
const RULES: readonly MetricRule[] = [
  {
    metric: /connection/i,
    value: /%\s*$/,
    check: 'connections',
    warnKey: 'warn_pct',
    criticalKey: 'critical_pct',
    worse: 'higher',
  },
  { metric: /connection/i, check: 'connections', warnKey: 'warn', criticalKey: 'critical', worse: 'higher' },
  {
    metric: /idle[\s-]+in[\s-]+transaction/i,
    check: 'idle_in_transaction',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /(?:long[\s-]*running|open|long)\s+transactions?|transaction\s+(?:age|duration|time)/i,
    check: 'long_transactions',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /mean\s+(?:query|execution|exec)\s+time|slow\s+quer/i,
    check: 'slow_queries',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /long[\s-]*running\s+quer|quer(?:y|ies)\s+(?:time|duration|runtime)|running\s+quer/i,
    check: 'long_running_queries',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /cache\s+hit/i,
    check: 'cache_hit_ratio',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'lower',
  },
  {
    metric: /replica(?:tion)?\s+lag|replay\s+lag/i,
    check: 'replica_lag',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /dead\s+tuples?|table\s+bloat/i,
    check: 'dead_tuples',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /lock\s+wait|blocking|blocked/i,
    check: 'blocking_chains',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /wraparound|xid|transaction\s+id\s+age/i,
    check: 'xid_wraparound',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /sequence/i,
    check: 'sequence_exhaustion',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
  {
    metric: /\b(?:db|database)\s+size\b|\bdisk\b|\bstorage\b/i,
    check: 'database_size',
    warnKey: 'warn',
    criticalKey: 'critical',
    worse: 'higher',
  },
];

/** A row that sets thresholds: `connections.warn` → 60 with `>`. */
export interface AppliedThreshold {
  runbook: string;
  metric: string;
  line: number;
  settings: Array<{ name: string; value: number; operator: ThresholdOperator; written: string }>;
}

/** A row that does not: why, in words lint shows. */
export interface IgnoredThreshold {
  runbook: string;
  metric: string;
  line: number;
  reason: string;
}

export interface RunbookThresholdReading {
  applied: AppliedThreshold[];
  ignored: IgnoredThreshold[];
}

/** Reads one runbook's threshold rows against the check catalog. */
export function readRunbookThresholds(
  runbook: Pick<Runbook, 'id' | 'alertThresholds'>,
  catalog: readonly CheckDefinition[] = HEALTH_CHECKS,
): RunbookThresholdReading {
  const applied: AppliedThreshold[] = [];
  const ignored: IgnoredThreshold[] = [];
  for (const row of runbook.alertThresholds ?? []) {
    const base = { runbook: runbook.id, metric: row.metric, line: row.line };
    const result = readRow(row, catalog);
    if (typeof result === 'string') ignored.push({ ...base, reason: result });
    else applied.push({ ...base, settings: result });
  }
  return { applied, ignored };
}

function readRow(
  row: RunbookAlertThreshold,
  catalog: readonly CheckDefinition[],
): AppliedThreshold['settings'] | string {
  const values = [row.warn?.value, row.critical?.value].filter((value): value is string => !!value);
  const rule = RULES.find(
    (candidate) =>
      candidate.metric.test(row.metric) &&
      (!candidate.value || values.every((value) => candidate.value!.test(value))),
  );
  if (!rule) return `no health check measures "${row.metric}"`;
  const check = catalog.find((candidate) => candidate.id === rule.check);
  if (!check) return `no health check measures "${row.metric}"`;
  const settings: AppliedThreshold['settings'] = [];
  for (const [level, key] of [
    ['warn', rule.warnKey],
    ['critical', rule.criticalKey],
  ] as const) {
    const bound = row[level];
    if (!bound) continue;
    const spec = check.thresholds.find((candidate) => candidate.key === key)!;
    const written = `${bound.operator ?? ''} ${bound.value}`.trim();
    if (!bound.operator) {
      return `${level} "${bound.value}" has no operator; write "> ${bound.value}" (fires above) or ">= ${bound.value}" (fires at it)`;
    }
    const pointsUp = bound.operator === '>' || bound.operator === '>=';
    if (pointsUp !== (rule.worse === 'higher')) {
      return `${level} "${written}": check ${check.id} treats ${rule.worse} values as worse, so it compares with ${rule.worse === 'higher' ? '> or >=' : '< or <='}`;
    }
    const value = parseUnitValue(bound.value, spec.unit);
    if (typeof value !== 'number') return `${level} for check ${check.id}: ${value.error}`;
    settings.push({ name: `${check.id}.${key}`, value, operator: bound.operator, written });
  }
  return settings;
}

/** The alert-threshold layer a target gets from the runbooks it names; later runbooks win. */
export function runbookThresholdLayer(
  runbooks: readonly Pick<Runbook, 'id' | 'alertThresholds'>[],
): RunbookThresholdLayer | undefined {
  const layer: RunbookThresholdLayer = { values: {}, operators: {}, sources: {} };
  for (const runbook of runbooks) {
    for (const row of readRunbookThresholds(runbook).applied) {
      for (const setting of row.settings) {
        layer.values[setting.name] = setting.value;
        layer.operators[setting.name] = setting.operator;
        layer.sources[setting.name] = `${row.runbook} line ${row.line}`;
      }
    }
  }
  return Object.keys(layer.values).length > 0 ? layer : undefined;
}

/**
 * The runbook ids targets name that the library does not have, each as a line saying where
 * and what to write instead. Empty when every name is known.
 */
export function unknownTargetRunbooks(targets: readonly Target[], knownIds: readonly string[]): string[] {
  const known = new Set(knownIds);
  const problems: string[] = [];
  for (const target of targets) {
    for (const id of target.runbooks ?? []) {
      if (known.has(id)) continue;
      problems.push(
        `  - ${target.source}: runbooks names "${id}", which is not a loaded runbook (the id is the slug of its # title; loaded: ${[...known].sort().join(', ') || 'none'})`,
      );
    }
  }
  return problems;
}

/** What a health run of `target` takes from its runbooks, reading the library as it is now. */
export function thresholdsForTarget(
  target: Pick<Target, 'runbooks'>,
  library: { runbook(id: string): Runbook | undefined },
): RunbookThresholdLayer | undefined {
  if (!target.runbooks?.length) return undefined;
  const runbooks = target.runbooks
    .map((id) => library.runbook(id))
    .filter((runbook): runbook is Runbook => runbook !== undefined);
  return runbookThresholdLayer(runbooks);
}
