import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HEALTH_CHECKS } from '../../src/health/catalog.js';
import { formatUnitValue } from '../../src/health/units.js';

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('lists every health check with its default thresholds', () => {
    for (const check of HEALTH_CHECKS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${check.id}\` |`));
      expect(row, `README row for ${check.id}`).toBeDefined();
      for (const spec of check.thresholds) {
        expect(row).toContain(`${spec.key} ${formatUnitValue(spec.default, spec.unit)}`);
      }
    }
  });

  it('names the two set-up commands that CI runs', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toContain('npm test');
    expect(ci).toContain('npm run demo');
  });
});
