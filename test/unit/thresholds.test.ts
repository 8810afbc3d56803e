import { describe, expect, it } from 'vitest';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import {
  parseThresholdOverrides,
  resolveThresholds,
  splitAssignments,
  targetThresholdLayers,
  thresholdOrderProblems,
} from '../../src/health/thresholds.js';
import { parseUnitValue } from '../../src/health/units.js';

describe('threshold values', () => {
  it.each([
    ['8GB', 'bytes', 8 * 1024 ** 3],
    ['512MB', 'bytes', 512 * 1024 ** 2],
    ['1073741824', 'bytes', 1073741824],
    ['10min', 'seconds', 600],
    ['2h', 'seconds', 7200],
    ['30', 'seconds', 30],
    ['90%', 'percent', 90],
    ['1.3B', 'count', 1.3e9],
    ['1_000', 'count', 1000],
    ['2s', 'milliseconds', 2000],
    ['1.5KB', 'bytes', 1536],
    ['10.4', 'count', 10],
  ] as const)('parses %s as %s', (raw, unit, expected) => {
    expect(parseUnitValue(raw, unit)).toBe(expected);
  });

  it.each([
    ['8 parsecs', 'bytes'],
    ['fast', 'seconds'],
    ['120', 'percent'],
    ['-1', 'count'],
  ] as const)('rejects %s as %s with what is accepted', (raw, unit) => {
    const result = parseUnitValue(raw, unit);
    expect(result).toMatchObject({ error: expect.stringContaining(raw) });
  });
});

describe('threshold overrides', () => {
  it('layers overrides over the defaults in order', () => {
    const check = HEALTH_CHECKS.find((c) => c.id === 'connections')!;
    const target = parseThresholdOverrides([['connections.warn', '100']], HEALTH_CHECKS, 'targets.yml');
    const cli = parseThresholdOverrides([['connections.critical', '150']], HEALTH_CHECKS, '--threshold');
    expect(resolveThresholds(check, [target, cli])).toEqual({
      warn: 100,
      critical: 150,
      warn_pct: 90,
      critical_pct: 95,
    });
    expect(resolveThresholds(check, [target, { 'connections.warn': 70 }])).toMatchObject({ warn: 70 });
  });

  it('reports every bad override at once, each with what would be accepted', () => {
    const parse = () =>
      parseThresholdOverrides(
        [
          ['conections.warn', '1'],
          ['connections.warning', '1'],
          ['database_size.warn', 'big'],
          ['nodot', '1'],
        ],
        HEALTH_CHECKS,
        'targets.yml (targets.prod)',
      );
    expect(parse).toThrowError(/Invalid threshold in targets.yml \(targets.prod\)/);
    expect(parse).toThrowError(/conections.warn: unknown check "conections" \(did you mean "connections"\?/);
    expect(parse).toThrowError(
      /connections.warning: check connections has no threshold "warning"; it has: warn, critical, warn_pct, critical_pct/,
    );
    expect(parse).toThrowError(/database_size.warn: "big" is not a valid bytes value \(examples: 8GB/);
    expect(parse).toThrowError(/nodot: should be CHECK.KEY/);
  });

  it('finds a warn that could never fire before critical, whichever way is worse, in any layer', () => {
    const target = {
      thresholdOverrides: { 'cache_hit_ratio.critical': '99.5%' },
      source: 'targets.yml (targets.prod)',
    };
    const runbook = {
      values: { 'connections.critical': 50 },
      operators: {},
      sources: { 'connections.critical': 'ops-runbook line 12' },
    };
    const problems = thresholdOrderProblems(
      HEALTH_CHECKS,
      targetThresholdLayers(target, HEALTH_CHECKS, runbook, { 'connections.warn_pct': 95 }),
    );
    expect(problems).toEqual([
      'connections.warn 60 (the default) is not below connections.critical 50 (ops-runbook line 12), so it could never warn before it is critical: set connections.warn below 50, or connections.critical above 60',
      'connections.warn_pct 95% (--threshold) is not below connections.critical_pct 95% (the default), so it could never warn before it is critical: set connections.warn_pct below 95%, or connections.critical_pct above 95%',
      // Lower is worse for the cache hit ratio: warn must stay above critical.
      'cache_hit_ratio.warn 99% (the default) is not above cache_hit_ratio.critical 99.5% (targets.yml (targets.prod) thresholds), so it could never warn before it is critical: set cache_hit_ratio.warn above 99.5%, or cache_hit_ratio.critical below 99%',
    ]);
    // The defaults alone, and overrides in the right order, are fine.
    expect(
      thresholdOrderProblems(
        HEALTH_CHECKS,
        targetThresholdLayers({ thresholdOverrides: {}, source: 'x' }, HEALTH_CHECKS),
      ),
    ).toEqual([]);
    expect(
      thresholdOrderProblems(
        HEALTH_CHECKS,
        targetThresholdLayers({ thresholdOverrides: {}, source: 'x' }, HEALTH_CHECKS, undefined, {
          'connections.warn': 70,
        }),
      ),
    ).toEqual([]);
  });

  it('explains the CLI syntax when = is missing', () => {
    expect(() => splitAssignments(['connections.warn'])).toThrowError(/should look like CHECK.KEY=VALUE/);
    expect(splitAssignments(['connections.warn = 5'])).toEqual([['connections.warn', '5']]);
  });

  it('every check has a stable id, a title, a description and defaults that parse', () => {
    const ids = HEALTH_CHECKS.map((check) => check.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(20);
    for (const check of HEALTH_CHECKS) {
      expect(check.id).toMatch(/^[a-z][a-z_]+$/);
      expect(check.description.length).toBeGreaterThan(20);
      for (const spec of check.thresholds) expect(Number.isFinite(spec.default)).toBe(true);
    }
  });
});
