/**
 * `npm run docs`: rewrites the health-check table in README.md from the catalog, between
 * the `checks:start` and `checks:end` markers. test/unit/readme.test.ts fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { HEALTH_CHECKS } from '../src/health/catalog.js';
import { formatUnitValue } from '../src/health/units.js';

const START = '<!-- checks:start -->';
const END = '<!-- checks:end -->';

const rows = HEALTH_CHECKS.map((check) => {
  const thresholds = check.thresholds
    .map((spec) => `${spec.key} ${formatUnitValue(spec.default, spec.unit)}`)
    .join(', ');
  const privilege = check.needsReadAllStats ? ' *Needs pg_read_all_stats.*' : '';
  const procedure = check.remediation ? `\`${check.remediation.procedure}\`` : '—';
  return `| \`${check.id}\` | ${check.description.replaceAll('|', '\\|')}${privilege} | ${thresholds || '—'} | ${procedure} |`;
});
const table = [
  '| id | what it finds | thresholds (default) | procedure |',
  '|---|---|---|---|',
  ...rows,
].join('\n');

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md needs ${START} and ${END} around the checks table`);
writeFileSync(path, `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`);
