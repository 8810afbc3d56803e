/**
 * `npm run docs`: rewrites the health-check table in docs/health-checks.md from the catalog,
 * between the `checks:start` and `checks:end` markers. test/unit/docs.test.ts fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { HEALTH_CHECKS } from '../src/health/catalog.js';
import { formatUnitValue } from '../src/health/units.js';

export const CHECKS_START = '<!-- checks:start -->';
export const CHECKS_END = '<!-- checks:end -->';
export const HEALTH_CHECKS_PAGE = new URL('../docs/health-checks.md', import.meta.url);

/** The table as the catalog says it should be. */
export function checkTable(): string {
  const rows = HEALTH_CHECKS.map((check) => {
    const thresholds = check.thresholds
      .map((spec) => `${spec.key} ${formatUnitValue(spec.default, spec.unit)}`)
      .join(', ');
    const privilege = check.needsReadAllStats ? ' *Needs pg_read_all_stats.*' : '';
    const procedure = check.remediation ? `\`${check.remediation.procedure}\`` : '—';
    return `| \`${check.id}\` | ${check.description.replaceAll('|', '\\|')}${privilege} | ${thresholds || '—'} | ${procedure} |`;
  });
  return ['| id | what it finds | thresholds (default) | procedure |', '|---|---|---|---|', ...rows].join(
    '\n',
  );
}

/** The table as the page has it, or undefined without the markers. */
export function checkTableOnPage(page: string): string | undefined {
  const start = page.indexOf(CHECKS_START);
  const end = page.indexOf(CHECKS_END);
  return start < 0 || end < start ? undefined : page.slice(start + CHECKS_START.length, end).trim();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const page = readFileSync(HEALTH_CHECKS_PAGE, 'utf8');
  if (checkTableOnPage(page) === undefined)
    throw new Error(`docs/health-checks.md needs ${CHECKS_START} and ${CHECKS_END} around the checks table`);
  const start = page.indexOf(CHECKS_START) + CHECKS_START.length;
  writeFileSync(
    HEALTH_CHECKS_PAGE,
    `${page.slice(0, start)}\n${checkTable()}\n${page.slice(page.indexOf(CHECKS_END))}`,
  );
}
