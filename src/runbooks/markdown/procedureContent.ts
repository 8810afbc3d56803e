/**
 * Reads the blocks of one unit (a heading and its folded sub-headings) in document order:
 * labels open parts of the procedure, code blocks and step lists become steps, and prose
 * under Symptoms / Root Cause / Prevention / Verification is kept as text.
 *
 * Labels: a folded sub-heading (`### Root Cause`), a bold paragraph (`**Diagnosis**:`,
 * `**Option A: Clear Failed Items**`) or a bold-led one (`**Symptoms:** High CPU`). A bold
 * label that says nothing about its part (`**1. Shopify Credentials**:`) stays in the part
 * the last telling bold label opened (`**Rotation Steps**:`), else its heading's.
 *
 * Lists: a list item holding code is a step (its text titles the code's steps); a list
 * whose last item is followed by a code block titles that block (`1. **Enable X**` then a
 * fence at column 0, which ends the list). Other items are manual steps in step parts
 * (ordered lists anywhere but prose parts, bullet lists only under an explicit Fix /
 * Diagnosis style label), and prose otherwise.
 */
import type { Code, List, ListItem, Paragraph, PhrasingContent, RootContent } from 'mdast';
import { proseExpectation } from '../expectations.js';
import type { LoaderWarning } from '../model.js';
import { type Annotation, parseAnnotation } from './annotations.js';
import { cleanTitle, codeBlockSteps, type DraftStep, manualCodeStep } from './codeSteps.js';
import { type LabelCategory, labelCategory, stepRole } from './labels.js';
import { blockText, paragraphText, plainText } from './mdText.js';
import { repairMojibake } from './mojibake.js';

export interface UnitEnv {
  file: string;
  /** Source lines, to tell a fenced block from an indented one. */
  lines: readonly string[];
  /** Functions declared read-only for the whole file (top-of-file `readonly=`). */
  fileReadOnly: readonly string[];
  /** The category the unit's own heading implies (`### 4. Backup Verification` → verify). */
  baseCategory: LabelCategory;
}

export interface UnitContent {
  steps: DraftStep[];
  /** A step from code, or from a list under a step label: the unit is a procedure. */
  hasSteps: boolean;
  symptoms: string[];
  rootCause: string[];
  prevention: string[];
  verification: string[];
  /** All readable text, searched for error codes. */
  prose: string[];
  warnings: LoaderWarning[];
}

type Lead = { title: string; text: string };

const PROSE_PARTS = new Set<LabelCategory>(['symptoms', 'rootCause', 'prevention', 'verify']);
const STEP_PARTS = new Set<LabelCategory>(['remediate', 'diagnose']);
const SYMPTOM_FENCE = /^\s*(error|fatal|warning|symptoms?)\b[^:\n]{0,20}:/i;

function isWhitespaceText(node: PhrasingContent): boolean {
  return node.type === 'text' && node.value.trim() === '';
}

/**
 * `**Diagnosis**:` / `**Fix:**` / `**Option A: Clear Failed Items**` → the label, and any
 * text after it (`**Symptoms:** High response times` → "High response times").
 */
function paragraphLabel(paragraph: Paragraph): { label: string; rest: string } | undefined {
  const children = paragraph.children.filter((child) => !isWhitespaceText(child));
  const [first, ...after] = children;
  if (first?.type !== 'strong') return undefined;
  const strong = plainText(first);
  if (strong.length === 0 || strong.length > 80) return undefined;
  const rest = paragraphText({ type: 'paragraph', children: after });
  const label = strong.replace(/[:\s]+$/, '');
  if (rest === '' || rest === ':') return { label, rest: '' };
  // `**Option B: Delete Batch** (admin only)`: a remark on the label is part of it.
  if (/^\([^()\n]*\):?$/.test(rest)) return { label: `${label} ${rest.replace(/:$/, '')}`, rest: '' };
  const restFollowsLabel = strong.endsWith(':') || rest.startsWith(':') || /^\s*\n/.test(rest);
  return restFollowsLabel ? { label, rest: rest.replace(/^:\s*/, '').trim() } : undefined;
}

/** `**Verify Recovery**: curl …` → "Verify Recovery"; `Check for long-running queries:` → itself. */
function itemTitle(item: ListItem): string {
  const first = item.children[0];
  if (first?.type === 'paragraph') {
    const label = paragraphLabel(first);
    if (label) return cleanTitle(label.label);
    return cleanTitle(paragraphText(first).split('\n')[0] ?? '');
  }
  return cleanTitle(plainText(item));
}

/** A list item's blocks as lines (nested lists keep their bullets), up to `end`. */
function itemText(item: ListItem, end?: number): string {
  return item.children.slice(0, end).map(blockText).filter(Boolean).join('\n');
}

function containsCode(node: RootContent | ListItem): boolean {
  if (node.type === 'code') return true;
  return 'children' in node && (node.children as RootContent[]).some((child) => containsCode(child));
}

export function readUnit(blocks: RootContent[], env: UnitEnv): UnitContent {
  const out: UnitContent = {
    steps: [],
    hasSteps: false,
    symptoms: [],
    rootCause: [],
    prevention: [],
    verification: [],
    prose: [],
    warnings: [],
  };
  const headingLabels: Array<{ depth: number; text: string; category: LabelCategory }> = [];
  let bold: { text: string; category: LabelCategory } | undefined;
  let boldContainer: LabelCategory | undefined;
  let pendingLead: Lead | undefined;
  let pendingAnnotation: Annotation | undefined;
  /** The steps of the code block just read, for a sentence after it that says what it returns. */
  let lastBlockSteps: DraftStep[] = [];

  /** The part the labels opened; decides what lists and prose are. */
  const category = (): LabelCategory => {
    if (bold) {
      if (bold.category !== 'other') return bold.category;
      if (boldContainer) return boldContainer;
    }
    for (let i = headingLabels.length - 1; i >= 0; i--) {
      const label = headingLabels[i];
      if (label && label.category !== 'other') return label.category;
    }
    return 'other';
  };
  /** For roles only, the unit heading speaks when no label does (`### 4. Backup Verification`). */
  const rolePart = (): LabelCategory => {
    const part = category();
    return part === 'other' ? env.baseCategory : part;
  };
  const section = (): string | undefined => bold?.text ?? headingLabels.at(-1)?.text;
  /**
   * Whether the part was opened by an explicit step label (`### Steps`, `**Fix:**`): only
   * then do plain list items make the unit a procedure. The unit heading's own words don't
   * count ("Emergency Response Team" is a contact list, not a response), nor numbering alone
   * (a table of contents is an ordered list).
   */
  const labelledStepPart = (): boolean => {
    return STEP_PARTS.has(category());
  };

  const dropAnnotation = () => {
    if (!pendingAnnotation) return;
    const { line } = pendingAnnotation;
    out.warnings.push({
      line,
      message: `runbook annotation at line ${line} is not followed by a code block in its section; ignored`,
    });
    pendingAnnotation = undefined;
  };

  /**
   * Text under the current label: kept on the procedure when the part is prose. Symptoms are
   * one line each (they are matched against what people paste); other prose keeps list bullets.
   */
  const keepProse = (text: string, options: { asSymptom?: boolean; listItem?: boolean } = {}) => {
    if (!text) return;
    out.prose.push(text);
    const prose = options.listItem ? `- ${text.replace(/\n/g, '\n  ')}` : text;
    switch (category()) {
      case 'symptoms':
        if (options.asSymptom !== false) out.symptoms.push(text.replace(/\s*\n\s*/g, ' '));
        break;
      case 'rootCause':
        out.rootCause.push(prose);
        break;
      case 'prevention':
        out.prevention.push(prose);
        break;
      case 'verify':
        out.verification.push(prose);
        break;
      default:
    }
  };

  const remediated = () => out.steps.some((step) => step.role === 'remediate');

  const addStep = (step: DraftStep, strong: boolean) => {
    out.steps.push(step);
    if (strong) out.hasSteps = true;
  };

  const manualStep = (title: string, text: string, line: number, strong: boolean) => {
    out.prose.push(text);
    addStep(
      {
        kind: 'manual',
        title,
        section: section(),
        role: stepRole('manual', rolePart(), title, remediated()),
        source: { file: env.file, line },
        text,
      },
      strong,
    );
  };

  /**
   * A sentence right after a block ("This should return no rows.") states what its check
   * should return, when the block has one check and no expectation yet. True when it did.
   */
  const expectFromSentence = (paragraph: Paragraph): boolean => {
    const checks = lastBlockSteps.filter((step) => step.kind === 'check');
    const check = checks[0];
    if (checks.length !== 1 || check?.kind !== 'check' || check.expect) return false;
    const text = paragraphText(paragraph).replace(/\s+/g, ' ').trim();
    const sentences = text.split(/(?<=[.!])\s+/);
    const derived = sentences.map((sentence) => ({
      sentence,
      found: proseExpectation(sentence, check.statement.text),
    }));
    const stated = derived.filter((item) => item.found);
    if (stated.length !== 1) return false;
    const { sentence, found } = stated[0]!;
    check.expect = {
      text: found!.text,
      conditions: found!.conditions,
      from: 'prose',
      line: paragraph.position?.start.line ?? check.source.line,
      said: cleanTitle(sentence),
    };
    return true;
  };

  const onCode = (code: Code, lead: Lead | undefined) => {
    lastBlockSteps = [];
    const annotation = pendingAnnotation;
    pendingAnnotation = undefined;
    const part = category();
    const roleOf = rolePart();
    const startLine = code.position?.start.line ?? 1;
    if (part === 'prevention') {
      // Advice for next time ("after every migration run…", a ❌ BAD example): not run now.
      out.prevention.push(blockText(code));
      return;
    }
    const fenced = /^[\s>*+\-\d.)]*(`{3,}|~{3,})/.test(env.lines[startLine - 1] ?? '');
    const block = {
      code,
      file: env.file,
      firstLine: fenced ? startLine + 1 : startLine,
      lead: lead?.title,
      leadText: lead?.text,
      section: section(),
      annotation,
      fileReadOnly: env.fileReadOnly,
      role: (kind: 'check' | 'action' | 'manual', title: string | undefined) =>
        stepRole(kind, roleOf, title, remediated()),
    };
    const outcome = codeBlockSteps(block);
    if (outcome.kind === 'notSql') {
      // An unlabelled block that is not SQL: the error people see (`Error: "Session expired"`)
      // when it opens the procedure or sits under Symptoms; otherwise something to do by hand.
      const isSymptom = part === 'symptoms' || out.steps.length === 0 || SYMPTOM_FENCE.test(code.value);
      if (isSymptom && !lead) {
        for (const line of code.value.split('\n')) {
          const text = repairMojibake(line.trim().replace(/^symptoms?\s*:\s*/i, ''));
          if (text) {
            out.symptoms.push(text);
            out.prose.push(text);
          }
        }
        return;
      }
      addStep(manualCodeStep(block, ''), true);
      return;
    }
    for (const step of outcome.steps) addStep(step, true);
    lastBlockSteps = outcome.steps;
    out.warnings.push(...outcome.warnings);
  };

  const onItemWithCode = (item: ListItem) => {
    const firstCode = item.children.findIndex((child) => containsCode(child));
    const lead: Lead = { title: itemTitle(item), text: itemText(item, firstCode) };
    let seenCode = false;
    for (const [at, child] of item.children.entries()) {
      if (child.type === 'paragraph') {
        if (!seenCode) continue;
        if (item.children[at - 1]?.type === 'code' && expectFromSentence(child)) continue;
        const text = paragraphText(child);
        manualStep(cleanTitle(plainText(child)), text, child.position?.start.line ?? 1, false);
      } else if (child.type === 'code') {
        seenCode = true;
        onCode(child, lead);
      } else if (child.type === 'html') {
        onHtml(child.value, child.position?.start.line ?? 1);
      } else if (child.type === 'list') {
        onList(child, [], true);
      }
    }
  };

  const onList = (list: List, following: RootContent[], nested = false) => {
    const part = category();
    const itemsAreSteps =
      nested || (!PROSE_PARTS.has(part) && (list.ordered === true || STEP_PARTS.has(part)));
    const items = [...list.children];
    // `1. **Enable Stabilization Mode**` followed by a fence at column 0 (which ends the
    // list): the item titles the block instead of being a step of its own.
    const next = following.find((node) => node.type !== 'html');
    const last = items.at(-1);
    if (next?.type === 'code' && last && !containsCode(last) && part !== 'prevention') {
      items.pop();
      pendingLead = { title: itemTitle(last), text: itemText(last) };
    }
    for (const item of items) {
      if (containsCode(item) && part !== 'prevention') onItemWithCode(item);
      else if (itemsAreSteps) {
        manualStep(itemTitle(item), itemText(item), item.position?.start.line ?? 1, labelledStepPart());
      } else keepProse(itemText(item), { listItem: true });
    }
  };

  const onHtml = (html: string, line: number) => {
    const parsed = parseAnnotation(html, line);
    if (!parsed) return;
    dropAnnotation();
    out.warnings.push(...parsed.warnings);
    pendingAnnotation = parsed.annotation;
  };

  blocks.forEach((node, index) => {
    switch (node.type) {
      case 'heading': {
        dropAnnotation();
        while ((headingLabels.at(-1)?.depth ?? 0) >= node.depth) headingLabels.pop();
        const text = plainText(node);
        headingLabels.push({ depth: node.depth, text, category: labelCategory(text) });
        bold = undefined;
        boldContainer = undefined;
        pendingLead = undefined;
        out.prose.push(text);
        break;
      }
      case 'paragraph': {
        const label = paragraphLabel(node);
        if (!label && blocks[index - 1]?.type === 'code') expectFromSentence(node);
        if (!label) {
          keepProse(paragraphText(node));
          break;
        }
        const labelled = labelCategory(label.label);
        bold = { text: label.label, category: labelled };
        if (labelled !== 'other') boldContainer = labelled;
        // A sub-label inside a prose part ("When creating views:") reads as part of that prose.
        if (labelled === 'other') {
          keepProse(label.rest ? `${label.label}: ${label.rest}` : `${label.label}:`, {
            asSymptom: label.rest !== '',
          });
        } else keepProse(label.rest);
        break;
      }
      case 'list':
        onList(node, blocks.slice(index + 1));
        break;
      case 'code': {
        const lead = pendingLead;
        pendingLead = undefined;
        onCode(node, lead);
        break;
      }
      case 'html':
        onHtml(node.value, node.position?.start.line ?? 1);
        break;
      case 'table':
      case 'blockquote':
        keepProse(blockText(node));
        break;
      default:
    }
  });
  dropAnnotation();
  return out;
}
