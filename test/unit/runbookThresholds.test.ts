import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import { levelAbove, levelBelow } from '../../src/health/checkKit.js';
import {
  readRunbookThresholds,
  runbookThresholdLayer,
  thresholdsForTarget,
  unknownTargetRunbooks,
} from '../../src/health/runbookThresholds.js';
import { resolveOperators, resolveThresholds } from '../../src/health/thresholds.js';
import { lintRunbook } from '../../src/runbooks/lint/lintRunbook.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import type { Runbook } from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { testTarget } from '../support/databases.js';

const SEEDS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/seeds');

function seed(prefix: string): Runbook {
  const name = readdirSync(SEEDS_DIR).find((file) => file.startsWith(prefix))!;
  const parsed = parseRunbook(readFileSync(join(SEEDS_DIR, name), 'utf8'), name);
  return { ...parsed, source: { file: name, sha256: 'x', origin: 'file' } };
}

function runbook(markdown: string): Runbook {
  return { ...parseRunbook(markdown, 'team.md'), source: { file: 'team.md', sha256: 'x', origin: 'file' } };
}

const GB = 1024 ** 3;
const check = (id: string) => HEALTH_CHECKS.find((candidate) => candidate.id === id)!;

beforeAll(async () => {
  await loadSqlParser();
});

describe("seed 003's alert threshold table", () => {
  it('is read row by row with the operators and values as written', () => {
    expect(seed('003').alertThresholds).toEqual([
      expect.objectContaining({
        metric: 'DB Size',
        warn: { operator: '>', value: '8GB' },
        critical: { operator: '>', value: '10GB' },
      }),
      expect.objectContaining({ metric: 'Connections', warn: { operator: '>', value: '60' } }),
      expect.objectContaining({ metric: 'Query Time', warn: { operator: '>', value: '5s' } }),
      expect.objectContaining({ metric: 'Low Stock' }),
      expect.objectContaining({ metric: 'Failed Queries' }),
    ]);
    expect(seed('004').alertThresholds).toBeUndefined();
  });

  it('sets database size, connections and long-running queries; the rest no check measures', () => {
    const reading = readRunbookThresholds(seed('003'));
    expect(reading.applied.flatMap((row) => row.settings)).toEqual([
      { name: 'database_size.warn', value: 8 * GB, operator: '>', written: '> 8GB' },
      { name: 'database_size.critical', value: 10 * GB, operator: '>', written: '> 10GB' },
      { name: 'connections.warn', value: 60, operator: '>', written: '> 60' },
      { name: 'connections.critical', value: 80, operator: '>', written: '> 80' },
      { name: 'long_running_queries.warn', value: 5, operator: '>', written: '> 5s' },
      { name: 'long_running_queries.critical', value: 10, operator: '>', written: '> 10s' },
    ]);
    expect(reading.ignored.map((row) => row.reason)).toEqual([
      'no health check measures "Low Stock"',
      'no health check measures "Failed Queries"',
    ]);
  });

  it('lint says which rows are ignored, with their lines', () => {
    const findings = lintRunbook(seed('003')).filter((finding) => finding.rule === 'ignored-threshold');
    expect(findings.map((finding) => finding.message)).toEqual([
      'alert threshold "Low Stock" is ignored: no health check measures "Low Stock"',
      'alert threshold "Failed Queries" is ignored: no health check measures "Failed Queries"',
    ]);
    const text = readFileSync(
      join(SEEDS_DIR, readdirSync(SEEDS_DIR).find((f) => f.startsWith('003'))!),
      'utf8',
    );
    expect(text.split('\n')[findings[0]!.line - 1]).toContain('| Low Stock |');
  });
});

describe('the boundary follows the runbook operator', () => {
  it('`> 60` fires above 60, not at 60; `>=` (the built-in default) fires at 60', () => {
    expect(levelAbove(60, 60, 80, { warn: '>', critical: '>' })).toBe('ok');
    expect(levelAbove(61, 60, 80, { warn: '>', critical: '>' })).toBe('warn');
    expect(levelAbove(80, 60, 80, { warn: '>', critical: '>' })).toBe('warn');
    expect(levelAbove(81, 60, 80, { warn: '>', critical: '>' })).toBe('critical');
    expect(levelAbove(60, 60, 80)).toBe('warn');
    expect(levelAbove(80, 60, 80, { warn: '>=', critical: '>=' })).toBe('critical');
  });

  it('`<= 95%` on a lower-is-worse check fires at 95; the default `<` does not', () => {
    expect(levelBelow(95, 99, 95, { critical: '<=' })).toBe('critical');
    expect(levelBelow(95, 99, 95)).toBe('warn');
  });

  it("a target's or the CLI's own value for a key brings back the check's own comparison", () => {
    const layer = runbookThresholdLayer([seed('003')])!;
    const connections = check('connections');
    expect(resolveThresholds(connections, [layer.values, {}])).toMatchObject({ warn: 60, critical: 80 });
    expect(resolveOperators(connections, layer, [{}])).toEqual({ warn: '>', critical: '>' });
    expect(resolveOperators(connections, layer, [{ 'connections.warn': 100 }])).toEqual({ critical: '>' });
    expect(resolveThresholds(connections, [layer.values, { 'connections.warn': 100 }])).toMatchObject({
      warn: 100,
    });
  });
});

describe('rows that set nothing say why', () => {
  it('a row without operator, pointing the wrong way, or with a value of the wrong unit is ignored with the fix', () => {
    const reading = readRunbookThresholds(
      runbook(`# Team
## Alerts
| Metric | Warning | Critical |
|---|---|---|
| Connections % | > 70% | > 90% |
| Cache hit ratio | < 99% | < 95% |
| Replication lag | 60 | 300 |
| Dead tuples | < 20% | < 50% |
| Database size | > lots | > more |
`),
    );
    expect(
      reading.applied.flatMap((row) => row.settings.map((s) => `${s.name} ${s.operator} ${s.value}`)),
    ).toEqual([
      'connections.warn_pct > 70',
      'connections.critical_pct > 90',
      'cache_hit_ratio.warn < 99',
      'cache_hit_ratio.critical < 95',
    ]);
    expect(reading.ignored.map((row) => `${row.metric}: ${row.reason}`)).toEqual([
      'Replication lag: warn "60" has no operator; write "> 60" (fires above) or ">= 60" (fires at it)',
      'Dead tuples: warn "< 20%": check dead_tuples treats higher values as worse, so it compares with > or >=',
      'Database size: warn for check database_size: "lots" is not a valid bytes value (examples: 8GB, 512MB, 1073741824)',
    ]);
  });

  it('a table without a metric column or without warning/critical columns is not a threshold table', () => {
    const parsed = runbook(`# Team
| Severity | Response Time |
|---|---|
| P1 | 5 minutes |
`);
    expect(parsed.alertThresholds).toBeUndefined();
  });
});

describe('targets that use a runbook', () => {
  it('take the thresholds of the runbooks they name, later runbooks winning', () => {
    const team = runbook(`# Team Overrides
| Metric | Warning |
|---|---|
| Connections | >= 100 |
`);
    const library = { runbook: (id: string) => [seed('003'), team].find((rb) => rb.id === id) };
    const target = testTarget('postgres://x/y', {
      runbooks: ['database-operations-runbook', 'team-overrides'],
    });
    const layer = thresholdsForTarget(target, library)!;
    expect(layer.values).toMatchObject({ 'connections.warn': 100, 'connections.critical': 80 });
    expect(layer.operators).toMatchObject({ 'connections.warn': '>=', 'connections.critical': '>' });
    expect(thresholdsForTarget(testTarget('postgres://x/y'), library)).toBeUndefined();
  });

  it('naming a runbook the library does not have is reported with the loaded ids', () => {
    const target = testTarget('postgres://x/y', {
      runbooks: ['database-operations'],
      source: 'targets.yml (targets.prod)',
    });
    expect(unknownTargetRunbooks([target], ['database-operations-runbook'])).toEqual([
      '  - targets.yml (targets.prod): runbooks names "database-operations", which is not a loaded runbook (the id is the slug of its # title; loaded: database-operations-runbook)',
    ]);
  });
});
