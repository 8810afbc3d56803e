/**
 * A fenced code block as steps. SQL (labelled, or unlabelled and parsing as SQL) becomes one
 * step per statement, a Check only when the SQL analyzer proves it read-only. Everything else
 * (bash, TypeScript, a SQL block that does not parse) is a manual step: shown, never run.
 */
import type { Code } from 'mdast';
import { clip } from '../../text.js';
import { proseExpectation } from '../expectations.js';
import type { ActionStep, CheckStep, Expectation, LoaderWarning, ManualStep, Step } from '../model.js';
import { type AnalyzedStatement, analyzeSqlBlock, type BlockAnalysis } from '../sql/analyzeSqlBlock.js';
import type { Annotation } from './annotations.js';
import { authorRisk } from './authorRisk.js';
import { repairMojibake } from './mojibake.js';

/** A step before the procedure numbers it. */
export type DraftStep = Omit<CheckStep, 'id'> | Omit<ActionStep, 'id'> | Omit<ManualStep, 'id'>;

export const SQL_LANGS = new Set(['sql', 'postgresql', 'postgres', 'psql', 'pgsql', 'plpgsql']);

export interface CodeBlock {
  code: Code;
  file: string;
  /** File line of the block's first content line (after the opening fence). */
  firstLine: number;
  /** The list item the block belongs to, e.g. "Check for long-running queries". */
  lead?: string;
  /** The list item's full text, shown with a manual step. */
  leadText?: string;
  /** The label of the part of the procedure, e.g. "Option A: Clear Failed Items". */
  section?: string;
  annotation?: Annotation;
  fileReadOnly: readonly string[];
  role: (kind: 'check' | 'action' | 'manual', title: string | undefined) => Step['role'];
}

export type CodeBlockOutcome =
  | { kind: 'steps'; steps: DraftStep[]; warnings: LoaderWarning[] }
  /** Unlabelled and not SQL: example output or an error message; the caller decides. */
  | { kind: 'notSql' };

function fenceLang(code: Code): string {
  return (code.lang ?? '').trim().toLowerCase();
}

/**
 * The `--` comment right above a statement, as a title. Authors stack remarks
 * (`-- Should return the correct customer` / `-- If customer_id is NULL or wrong, fix it:`):
 * the last line is the one about the statement, unless it continues a sentence
 * (starts lower-case), in which case the lines are read together.
 */
function commentTitle(blockText: string, analyzed: AnalyzedStatement): string | undefined {
  const lines = blockText.split('\n');
  const comments: string[] = [];
  let index = analyzed.lineOffset - 1;
  while (index >= 0 && lines[index]?.trim() === '') index--;
  for (; index >= 0; index--) {
    const line = lines[index]?.trim() ?? '';
    if (!line.startsWith('--')) break;
    const text = line.replace(/^--+\s*/, '');
    if (text) comments.unshift(text);
  }
  const last = comments.at(-1);
  if (last === undefined) return analyzed.comment ? cleanTitle(analyzed.comment) : undefined;
  return cleanTitle(/^[a-z]/.test(last) ? comments.join(' ') : last);
}

/** One line, no trailing colon, at most 120 characters. */
export function cleanTitle(text: string): string {
  const line = repairMojibake(text)
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[:\s]+$/, '');
  return clip(line, 120);
}

function analyze(text: string, readOnlyFunctions: string[]): BlockAnalysis {
  try {
    return analyzeSqlBlock(text, readOnlyFunctions.length > 0 ? { readOnlyFunctions } : undefined);
  } catch (error) {
    // One bad block never fails a file, whatever the analyzer does with it.
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

function statementStep(block: CodeBlock, analyzed: AnalyzedStatement): DraftStep {
  const { annotation } = block;
  const comment = commentTitle(block.code.value, analyzed);
  const title = annotation?.title ?? comment ?? block.lead ?? block.section ?? analyzed.statement.kind;
  const lead = annotation?.title ?? comment ?? block.lead;
  const base = {
    title: cleanTitle(title),
    section: block.section,
    source: { file: block.file, line: block.firstLine + analyzed.lineOffset },
  };
  if (analyzed.class === 'check') {
    const step: Omit<CheckStep, 'id'> = {
      ...base,
      kind: 'check',
      role: block.role('check', lead),
      statement: analyzed.statement,
    };
    return step;
  }
  const step: Omit<ActionStep, 'id'> = {
    ...base,
    kind: 'action',
    role: block.role('action', lead),
    statement: analyzed.statement,
    // The analyzer derives a risk for every action; unknown risk is treated as the worst.
    risk: annotation?.risk ?? analyzed.risk ?? 'high',
    riskReasons: annotation?.risk
      ? ['set by annotation', ...analyzed.riskReasons]
      : analyzed.risk
        ? analyzed.riskReasons
        : ['risk not derived; treated as high', ...analyzed.riskReasons],
    actionReasons: analyzed.actionReasons,
    noTransaction: analyzed.noTransaction,
  };
  // What the author wrote around it ("(safe)", "use with caution") weighs in unless annotated.
  if (!annotation?.risk && analyzed.risk) {
    const said = authorRisk([comment, block.lead, block.section].filter(Boolean).join(' · '), {
      risk: step.risk,
      reasons: step.riskReasons,
    });
    step.risk = said.risk;
    step.riskReasons = said.reasons;
  }
  // An annotated risk is the author saying it acts: then it stays an action whatever the catalog says.
  if (analyzed.unknownFunctions && !annotation?.risk)
    step.decidedByCatalog = { functions: analyzed.unknownFunctions };
  if (annotation?.approvers !== undefined) step.approvers = annotation.approvers;
  if (annotation?.maxRows !== undefined) step.maxRows = annotation.maxRows;
  if (annotation?.batched !== undefined) step.batched = annotation.batched;
  if (annotation?.signalScope !== undefined) step.signalScope = annotation.signalScope;
  return step;
}

/** The line of the opening fence (or of the first line of an indented block). */
function blockLine(block: CodeBlock): number {
  return block.code.position?.start.line ?? block.firstLine;
}

/** A block shown to a person and ticked off: bash, TypeScript, unparseable SQL. */
export function manualCodeStep(block: CodeBlock, lang: string): DraftStep {
  const firstComment = block.code.value
    .split('\n')
    .map((line) => line.trim())
    .find((line) => /^(#(?!!)|\/\/|--)/.test(line))
    ?.replace(/^(#+|\/\/+|--+)\s*/, '');
  const title =
    block.annotation?.title ?? block.lead ?? block.section ?? firstComment ?? `${lang || 'code'} block`;
  const step: Omit<ManualStep, 'id'> = {
    kind: 'manual',
    title: cleanTitle(title),
    section: block.section,
    role: block.role('manual', block.annotation?.title ?? block.lead),
    source: { file: block.file, line: blockLine(block) },
    text: block.leadText || cleanTitle(title),
    code: { lang, text: block.code.value },
  };
  return step;
}

function annotationWarnings(block: CodeBlock, steps: DraftStep[]): LoaderWarning[] {
  const { annotation } = block;
  if (!annotation) return [];
  const hasAction = steps.some((step) => step.kind === 'action');
  const unused = [
    annotation.risk !== undefined && !hasAction ? 'risk' : undefined,
    annotation.approvers !== undefined && !hasAction ? 'approvers' : undefined,
    annotation.maxRows !== undefined && !hasAction ? 'max_rows' : undefined,
    annotation.batched !== undefined && !hasAction ? 'batched' : undefined,
    annotation.signalScope !== undefined && !hasAction ? 'signal_scope' : undefined,
  ].filter(Boolean);
  const checks = steps.filter((step) => step.kind === 'check').length;
  const expect = annotation.expect && checks !== 1 ? [expectWarning(block, checks)] : [];
  if (unused.length === 0) return expect;
  return [
    {
      line: annotation.line,
      message: `runbook annotation at line ${annotation.line}: ${unused.join(' and ')} ${unused.length === 1 ? 'applies' : 'apply'} to SQL actions, and the block at line ${blockLine(block)} has none; ignored`,
    },
    ...expect,
  ];
}

export function codeBlockSteps(block: CodeBlock): CodeBlockOutcome {
  const lang = fenceLang(block.code);
  const fenceLine = blockLine(block);
  if (lang !== '' && !SQL_LANGS.has(lang)) {
    const steps = [manualCodeStep(block, lang)];
    return { kind: 'steps', steps, warnings: annotationWarnings(block, steps) };
  }
  const readOnly = [...block.fileReadOnly, ...(block.annotation?.readonly ?? [])];
  const analysis = analyze(block.code.value, readOnly);
  if (!analysis.ok) {
    if (lang === '') return { kind: 'notSql' };
    const where = analysis.line !== undefined ? `, line ${block.firstLine + analysis.line}` : '';
    const steps = [manualCodeStep(block, lang)];
    return {
      kind: 'steps',
      steps,
      warnings: [
        {
          line: fenceLine,
          message: `SQL block at line ${fenceLine} does not parse (${analysis.error}${where}); kept as a manual step`,
        },
        ...annotationWarnings(block, steps),
      ],
    };
  }
  // A block of only comments has nothing to run.
  const steps = analysis.statements.map((analyzed) => statementStep(block, analyzed));
  const warnings = annotationWarnings(block, steps);
  const checks = steps.filter((step): step is Omit<CheckStep, 'id'> => step.kind === 'check');
  const annotated = block.annotation?.expect;
  if (annotated) {
    if (checks.length === 1)
      checks[0]!.expect = { ...annotated, from: 'annotation', line: block.annotation!.line };
  } else {
    for (const [i, step] of steps.entries()) {
      if (step?.kind !== 'check') continue;
      const derived = commentExpectation(block, analysis.statements, i);
      if (derived) step.expect = derived;
    }
  }
  return { kind: 'steps', steps, warnings };
}

function expectWarning(block: CodeBlock, checks: number): LoaderWarning {
  const line = block.annotation!.line;
  const what =
    checks === 0
      ? `the block at line ${blockLine(block)} has no SQL check`
      : `the block at line ${blockLine(block)} has ${checks} checks, so which one is meant is not clear (give each check its own block and annotation)`;
  return {
    line,
    message: `runbook annotation at line ${line}: expect applies to one SQL check, and ${what}; ignored`,
  };
}

/**
 * The expectation the author's `--` comments state for the check at `index`: those right above
 * it, and those after it up to the next statement. Comments between two checks could be about
 * either, so they are not read; nor is anything when its comments say two different things.
 */
function commentExpectation(
  block: CodeBlock,
  statements: AnalyzedStatement[],
  index: number,
): Expectation | undefined {
  const lines = block.code.value.split('\n');
  const isComment = (line: string | undefined) => /^\s*--/.test(line ?? '');
  const isBlank = (line: string | undefined) => (line ?? '').trim() === '';
  const candidates: number[] = [];
  const current = statements[index]!;
  const previous = statements[index - 1];
  if (previous?.class !== 'check') {
    let at = current.lineOffset - 1;
    while (at >= 0 && (isBlank(lines[at]) || isComment(lines[at]))) {
      if (isComment(lines[at])) candidates.push(at);
      at--;
    }
  }
  const next = statements[index + 1];
  if (next?.class !== 'check') {
    const end = next ? next.lineOffset : lines.length;
    let at = end - 1;
    // With a statement after it, its own leading comments are the ones above it; without, the
    // block's last comments.
    while (at > current.lineOffset && (isBlank(lines[at]) || isComment(lines[at]))) {
      if (isComment(lines[at])) candidates.push(at);
      at--;
    }
  }
  const found = candidates
    .map((at) => ({ at, derived: proseExpectation(lines[at]!, current.statement.text) }))
    .filter((item): item is { at: number; derived: NonNullable<ReturnType<typeof proseExpectation>> } =>
      Boolean(item.derived),
    );
  if (found.length === 0 || new Set(found.map((item) => item.derived.text)).size > 1) return undefined;
  const first = found.sort((a, b) => a.at - b.at)[0]!;
  return {
    text: first.derived.text,
    conditions: first.derived.conditions,
    from: 'prose',
    line: block.firstLine + first.at,
    said: cleanTitle(lines[first.at]!.replace(/^\s*--+\s*/, '')),
  };
}
