/**
 * The heading structure of a runbook: each heading with the blocks up to the next heading
 * and its sub-headings. A sub-heading that only names a part of an incident (`### Symptoms`,
 * `### Prevention Steps`) is folded into the heading above it, so every remaining heading is
 * a "unit": a candidate procedure, or prose if it turns out to have no steps.
 */
import type { Heading, Root, RootContent } from 'mdast';
import { isSectionName } from './labels.js';
import { plainText } from './mdText.js';

export interface OutlineHeading {
  node: Heading;
  depth: number;
  /** Heading text as displayed: emphasis dropped, mojibake repaired. */
  title: string;
  line: number;
  /** Blocks between this heading and the next heading of any depth. */
  content: RootContent[];
  parent?: OutlineHeading;
  children: OutlineHeading[];
  /** Folded into the unit of the heading above (a section name with a parent). */
  folded: boolean;
}

export interface Unit {
  heading: OutlineHeading;
  /** The headings whose text the unit reads: its own and the folded ones under it. */
  headings: OutlineHeading[];
  /** Own content, then each folded sub-heading followed by its content, in document order. */
  blocks: RootContent[];
}

export interface Outline {
  /** Blocks before the first heading. */
  preamble: RootContent[];
  /** Every heading, in document order. */
  headings: OutlineHeading[];
  units: Unit[];
}

export function outline(root: Root): Outline {
  const preamble: RootContent[] = [];
  const headings: OutlineHeading[] = [];
  const open: OutlineHeading[] = [];
  for (const node of root.children) {
    if (node.type !== 'heading') {
      (headings.at(-1)?.content ?? preamble).push(node);
      continue;
    }
    while ((open.at(-1)?.depth ?? 0) >= node.depth) open.pop();
    const parent = open.at(-1);
    const title = plainText(node);
    const heading: OutlineHeading = {
      node,
      depth: node.depth,
      title,
      line: node.position?.start.line ?? 1,
      content: [],
      parent,
      children: [],
      folded: parent !== undefined && isSectionName(title),
    };
    parent?.children.push(heading);
    headings.push(heading);
    open.push(heading);
  }
  const units = headings.filter((heading) => !heading.folded).map(unitOf);
  return { preamble, headings, units };
}

function unitOf(heading: OutlineHeading): Unit {
  const headings: OutlineHeading[] = [heading];
  const blocks: RootContent[] = [...heading.content];
  const addFolded = (parent: OutlineHeading) => {
    for (const child of parent.children) {
      if (!child.folded) continue;
      headings.push(child);
      blocks.push(child.node, ...child.content);
      addFolded(child);
    }
  };
  addFolded(heading);
  return { heading, headings, blocks };
}
