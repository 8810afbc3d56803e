/**
 * One Markdown runbook → a Runbook (the caller adds where it came from). Runbooks are
 * written by people in their own styles; this never throws on content: anything it cannot
 * use becomes a warning and the rest of the file still loads.
 *
 * - Title and id: the first `#` heading (else the file name, with a warning).
 * - Procedures: each heading whose part of the file holds steps. Sub-headings that only name
 *   a part of an incident (Symptoms, Root Cause, Fix…) belong to the heading above them, so
 *   the deepest heading that is about an incident is the procedure (see outline.ts).
 * - Sections: every other heading with its text (severity tables, escalation paths).
 * - Incident policy: a severity table and per-severity milestones (see incidentTables.ts).
 * - `<!-- runbook: readonly=fn -->` before the first heading applies to the whole file.
 *
 * The SQL parser must be loaded (`await loadSqlParser()`) before calling this.
 */
import { basename, extname } from 'node:path';
import type { Root, RootContent } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';
import type { LoaderWarning, Procedure, ProseSection, Runbook, Step } from '../model.js';
import { parseAnnotation } from './annotations.js';
import { collectErrorStrings } from './errorStrings.js';
import { readIncidentPolicy } from './incidentTables.js';
import { labelCategory } from './labels.js';
import { blocksText } from './mdText.js';
import { outline } from './outline.js';
import { readUnit, type UnitContent } from './procedureContent.js';
import { slugify } from './slug.js';
import { readAlertThresholds } from './thresholdTable.js';

function parseMarkdown(markdown: string): Root {
  return fromMarkdown(markdown, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
}

/** Annotations before the first heading: `readonly=` is file-wide, the other keys need a block. */
function fileAnnotations(preamble: RootContent[], warnings: LoaderWarning[]): string[] {
  const readOnly: string[] = [];
  for (const node of preamble) {
    if (node.type !== 'html') continue;
    const line = node.position?.start.line ?? 1;
    const parsed = parseAnnotation(node.value, line);
    if (!parsed) continue;
    warnings.push(...parsed.warnings);
    readOnly.push(...parsed.annotation.readonly);
    const { risk, approvers, title, maxRows, batched, signalScope } = parsed.annotation;
    if ([risk, approvers, title, maxRows, batched, signalScope].some((value) => value !== undefined)) {
      warnings.push({
        line,
        message: `runbook annotation at line ${line}: before the first heading only readonly= applies (to the whole file); risk, approvers, title, max_rows, batched and signal_scope belong right above a code block`,
      });
    }
  }
  return readOnly;
}

/** `#slug`, `#slug-2`, `#slug-3` … for headings that slug the same within one file. */
function procedureIds(runbookId: string) {
  const used = new Set<string>();
  return (title: string): string => {
    const base = slugify(title) || 'procedure';
    let slug = base;
    for (let n = 2; used.has(slug); n++) slug = `${base}-${n}`;
    used.add(slug);
    return `${runbookId}#${slug}`;
  };
}

const joined = (parts: string[]): string | undefined => (parts.length > 0 ? parts.join('\n') : undefined);

function toProcedure(id: string, title: string, line: number, file: string, content: UnitContent): Procedure {
  const steps = content.steps.map((step, index) => ({ ...step, id: String(index + 1) }) as Step);
  const procedure: Procedure = {
    id,
    title,
    source: { file, line },
    steps,
    symptoms: content.symptoms,
    errorStrings: collectErrorStrings({
      titleAndSymptoms: [title, ...content.symptoms].join('\n'),
      prose: [title, ...content.prose].join('\n'),
    }),
  };
  const rootCause = joined(content.rootCause);
  const prevention = joined(content.prevention);
  const verification = joined(content.verification);
  if (rootCause) procedure.rootCause = rootCause;
  if (prevention) procedure.prevention = prevention;
  if (verification) procedure.verification = verification;
  return procedure;
}

export function parseRunbook(markdown: string, file: string): Omit<Runbook, 'source'> {
  const warnings: LoaderWarning[] = [];
  const lines = markdown.split(/\r?\n/);
  const { preamble, headings, units } = outline(parseMarkdown(markdown));

  const h1 = headings.find((heading) => heading.depth === 1);
  const fileName = basename(file, extname(file));
  if (!h1) {
    warnings.push({ line: 1, message: 'no "# Title" heading: the runbook is named after its file' });
  }
  const title = h1?.title || fileName;
  const id = slugify(title) || slugify(fileName) || 'runbook';
  const fileReadOnly = fileAnnotations(preamble, warnings);
  const nextId = procedureIds(id);

  const procedures: Procedure[] = [];
  const sections: ProseSection[] = [];

  // A file of steps without any heading is one procedure named after the runbook.
  const preambleBlocks = preamble.filter((node) => node.type !== 'html');
  const preambleContent = readUnit(preambleBlocks, { file, lines, fileReadOnly, baseCategory: 'other' });
  if (preambleContent.hasSteps) {
    procedures.push(toProcedure(nextId(title), title, 1, file, preambleContent));
    warnings.push(...preambleContent.warnings);
  }

  for (const unit of units) {
    const category = labelCategory(unit.heading.title);
    const content = readUnit(unit.blocks, {
      file,
      lines,
      fileReadOnly,
      // The heading's own words set the part only when they name a kind of step.
      baseCategory:
        category === 'verify' || category === 'diagnose' || category === 'remediate' ? category : 'other',
    });
    warnings.push(...content.warnings);
    if (content.hasSteps) {
      procedures.push(
        toProcedure(nextId(unit.heading.title), unit.heading.title, unit.heading.line, file, content),
      );
      continue;
    }
    for (const heading of unit.headings) {
      sections.push({
        heading: heading.title,
        depth: heading.depth,
        text: blocksText(heading.content),
        line: heading.line,
      });
    }
  }
  sections.sort((a, b) => a.line - b.line);
  const incidentPolicy = readIncidentPolicy(preamble, headings, warnings);
  const alertThresholds = readAlertThresholds(preamble, headings);
  warnings.sort((a, b) => a.line - b.line);
  return {
    id,
    title,
    procedures,
    sections,
    ...(incidentPolicy ? { incidentPolicy } : {}),
    ...(alertThresholds.length > 0 ? { alertThresholds } : {}),
    warnings,
  };
}
