/**
 * Markdown nodes as the text people read in Slack and incident reports: emphasis dropped,
 * inline code kept in backticks (it marks table names and error codes), lists as `-`/`1.`
 * lines, tables as `a | b | c` rows. Every string goes through `repairMojibake` here, so the
 * rest of the loader never sees `ðŸš¨`.
 */
import type { ListItem, Nodes, Paragraph, PhrasingContent, RootContent } from 'mdast';
import { toString as mdastToString } from 'mdast-util-to-string';
import { repairMojibake } from './mojibake.js';

/** Whitespace collapsed to single spaces, mojibake repaired. For titles and labels. */
export function plainText(node: Nodes | Nodes[]): string {
  const text = Array.isArray(node) ? node.map((n) => mdastToString(n)).join('') : mdastToString(node);
  return repairMojibake(text.replace(/\s+/g, ' ').trim());
}

function inlineText(nodes: PhrasingContent[]): string {
  return nodes
    .map((node): string => {
      switch (node.type) {
        case 'text':
          return node.value;
        case 'inlineCode':
          return `\`${node.value}\``;
        case 'break':
          return '\n';
        case 'image':
          return node.alt ?? '';
        case 'html':
        case 'footnoteReference':
        case 'imageReference':
          return '';
        default:
          return 'children' in node ? inlineText(node.children) : '';
      }
    })
    .join('');
}

/** A paragraph's text with inline code in backticks; line breaks kept, spaces trimmed per line. */
export function paragraphText(paragraph: Paragraph): string {
  return repairMojibake(
    inlineText(paragraph.children)
      .split('\n')
      .map((line) => line.trim())
      .join('\n')
      .trim(),
  );
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => (line ? prefix + line : line))
    .join('\n');
}

function listItemText(item: ListItem, marker: string): string {
  const box = item.checked === true ? '[x] ' : item.checked === false ? '[ ] ' : '';
  const body = item.children.map(blockText).filter(Boolean).join('\n');
  const [first = '', ...rest] = body.split('\n');
  return [marker + box + first, ...rest.map((line) => (line ? `  ${line}` : line))].join('\n');
}

/** A block as readable text; an empty string for nodes that carry nothing to read. */
export function blockText(node: RootContent): string {
  switch (node.type) {
    case 'paragraph':
      return paragraphText(node);
    case 'heading':
      return plainText(node);
    case 'list':
      return node.children
        .map((item, index) => listItemText(item, node.ordered ? `${(node.start ?? 1) + index}. ` : '- '))
        .join('\n');
    case 'listItem':
      return listItemText(node, '- ');
    case 'code':
      return repairMojibake(`\`\`\`${node.lang ?? ''}\n${node.value}\n\`\`\``);
    case 'table':
      return node.children
        .map((row) => row.children.map((cell) => paragraphLike(cell.children)).join(' | '))
        .join('\n');
    case 'blockquote':
      return indent(node.children.map(blockText).filter(Boolean).join('\n'), '> ');
    default:
      return '';
  }
}

function paragraphLike(children: PhrasingContent[]): string {
  return repairMojibake(inlineText(children).replace(/\s+/g, ' ').trim());
}

/** Several blocks as text, one blank line apart. */
export function blocksText(nodes: RootContent[]): string {
  return nodes.map(blockText).filter(Boolean).join('\n\n');
}
