import type { KnownBlock } from '@slack/types';
import { clip } from '../../text.js';
import { LIMITS } from '../blockLimits.js';

/** Slack mrkdwn control characters in text that came from the database or a runbook. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A mrkdwn section, cut (visibly) to Slack's section limit. */
export function section(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, LIMITS.sectionText) } };
}

/** Room kept in each packed section for the "… and N more" note. */
const NOTE_ROOM = 40;

/**
 * Appends `lines` to `blocks` packed into as few sections as fit, leaving `keepBlocks` of the
 * message's 50 for what follows; lines that do not fit are counted in a last "… and N more"
 * line (`more(N)`), never dropped silently. A fleet summary or digest of 1,000 targets stays
 * one valid message.
 */
export function packLines(
  blocks: KnownBlock[],
  lines: readonly string[],
  keepBlocks: number,
  more: (hidden: number) => string,
): void {
  let current = '';
  let left = lines.length;
  for (const line of lines) {
    if (current && current.length + line.length + 1 > LIMITS.sectionText - NOTE_ROOM) {
      if (blocks.length >= LIMITS.blocksPerMessage - keepBlocks) break;
      blocks.push(section(current));
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
    left--;
  }
  if (current) blocks.push(section(left > 0 ? `${current}\n… and ${more(left)}` : current));
}

/**
 * Text in a code block whose whole length, fences included, stays within `max`; a cut is
 * marked with an ellipsis. Backtick fences inside would end the block early, so they are
 * replaced.
 */
export function codeFence(text: string, max: number = LIMITS.sectionText): string {
  const body = escapeMrkdwn(text).replaceAll('```', "'''");
  return `\`\`\`${clip(body, Math.max(0, max - 6))}\`\`\``;
}
