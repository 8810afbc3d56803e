/**
 * `npm run docs`: rewrites the health-check table in docs/health-checks.md from the catalog,
 * between the `checks:start` and `checks:end` markers, and the seed runbooks' verdict tables
 * in docs/seed-runbooks.md from the parsed runbooks, between `verdicts:start` and
 * `verdicts:end`. test/unit/docs.test.ts fails when either is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HEALTH_CHECKS } from '../src/health/catalog.js';
import { formatUnitValue } from '../src/health/units.js';
import { SQL_LANGS } from '../src/runbooks/markdown/codeSteps.js';
import type { Runbook, Step } from '../src/runbooks/model.js';
import { BUILT_IN_RUNBOOKS_DIR } from '../src/runbooks/runbookDirs.js';
import { loadRunbookFile } from '../src/runbooks/runbookFiles.js';

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

export const VERDICTS_START = '<!-- verdicts:start -->';
export const VERDICTS_END = '<!-- verdicts:end -->';
export const SEED_RUNBOOKS_PAGE = new URL('../docs/seed-runbooks.md', import.meta.url);

/** The five seed runbooks as the bot ships them (byte for byte test/fixtures/seeds/*.txt). */
export const SEED_RUNBOOKS: Array<{ seed: string; file: string }> = [
  { seed: '000', file: 'hampton-mowerpower-system.md' },
  { seed: '001', file: 'care-collective-database-troubleshooting.md' },
  { seed: '002', file: 'lotastro-wms-incidents.md' },
  { seed: '003', file: 'timothie-database-operations.md' },
  { seed: '004', file: 'production-operations.md' },
];

const cell = (text: string) => text.replace(/\s+/g, ' ').trim().replaceAll('|', '\\|');

/** One line of SQL as written, cut short: enough to recognise the statement. */
function sqlCell(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const short = line.length > 70 ? `${line.slice(0, 69)}…` : line;
  return `\`${short.replaceAll('`', "'").replaceAll('|', '\\|')}\``;
}

/**
 * Why a step stays with people, as the loader left it: a fence in another language, a SQL
 * block the parser refused (with its message, from the loader's warning at that line), a code
 * block without a language that is not SQL, or prose.
 */
export function manualReason(step: Extract<Step, { kind: 'manual' }>, runbook: Runbook): string {
  if (!step.code) return 'prose (a list item or paragraph): a person does it and ticks it off';
  const { lang } = step.code;
  if (SQL_LANGS.has(lang)) {
    const warning = runbook.warnings.find(
      (w) => w.line === step.source.line && /does not parse/.test(w.message),
    );
    const parser = warning?.message.match(/does not parse \((.*)\); kept as a manual step$/)?.[1];
    return `SQL that does not parse${parser ? `: ${parser}` : ''}`;
  }
  if (lang === '') return 'a code block without a language that is not SQL: shown, never run';
  return `a \`${lang}\` block: not SQL, shown to a person, never run`;
}

/** How the bot runs a step, and why: the verdict table's last two columns. */
export function stepVerdict(step: Step, runbook: Runbook): { runsAs: string; why: string } {
  switch (step.kind) {
    case 'manual':
      return { runsAs: 'manual', why: manualReason(step, runbook) };
    case 'check':
      return { runsAs: 'check', why: `${sqlCell(step.statement.text)}: read-only, runs without approval` };
    case 'action': {
      if (step.decidedByCatalog)
        return {
          runsAs: 'check or action',
          why: `${sqlCell(step.statement.text)}: decided by the target's catalog (${step.decidedByCatalog.functions.join(', ')}): a check where STABLE or IMMUTABLE and only reading, else a ${step.risk}-risk action`,
        };
      const reasons = [...new Set([...step.actionReasons, ...step.riskReasons])].join('; ');
      return {
        runsAs: `action (${step.risk})`,
        why: `${sqlCell(step.statement.text)}: ${cell(reasons)}`,
      };
    }
  }
}

/** The verdict tables as the parsed seed runbooks say they should be. */
export async function verdictTables(): Promise<string> {
  const parts: string[] = [];
  for (const { seed, file } of SEED_RUNBOOKS) {
    const runbook = await loadRunbookFile(join(BUILT_IN_RUNBOOKS_DIR, file), 'built-in');
    const steps = runbook.procedures.flatMap((procedure) => procedure.steps);
    const count = (kind: Step['kind']) => steps.filter((step) => step.kind === kind).length;
    const rows = runbook.procedures.flatMap((procedure) =>
      procedure.steps.map((step, i) => {
        const { runsAs, why } = stepVerdict(step, runbook);
        const name = i === 0 ? `${cell(procedure.title)} (line ${procedure.source.line})` : '';
        return `| ${name} | ${step.id}. ${cell(step.title)} | ${runsAs} | ${why} |`;
      }),
    );
    parts.push(
      [
        `### Seed ${seed}: ${cell(runbook.title)}`,
        '',
        `\`src/runbooks/library/${file}\`: ${runbook.procedures.length} procedures, ${count('check')} checks, ${count('action')} actions, ${count('manual')} manual steps.`,
        '',
        '| procedure | step | runs as | why |',
        '|---|---|---|---|',
        ...rows,
      ].join('\n'),
    );
  }
  return parts.join('\n\n');
}

function between(page: string, start: string, end: string): string | undefined {
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  return from < 0 || to < from ? undefined : page.slice(from + start.length, to).trim();
}

/** The verdict tables as the page has them, or undefined without the markers. */
export function verdictTablesOnPage(page: string): string | undefined {
  return between(page, VERDICTS_START, VERDICTS_END);
}

function rewrite(url: URL, name: string, start: string, end: string, content: string): void {
  const page = readFileSync(url, 'utf8');
  if (between(page, start, end) === undefined) throw new Error(`${name} needs ${start} and ${end}`);
  const at = page.indexOf(start) + start.length;
  writeFileSync(url, `${page.slice(0, at)}\n${content}\n${page.slice(page.indexOf(end))}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  rewrite(HEALTH_CHECKS_PAGE, 'docs/health-checks.md', CHECKS_START, CHECKS_END, checkTable());
  rewrite(SEED_RUNBOOKS_PAGE, 'docs/seed-runbooks.md', VERDICTS_START, VERDICTS_END, await verdictTables());
}
