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

/**
 * Text in a code block whose whole length, fences included, stays within `max`; a cut is
 * marked with an ellipsis. Backtick fences inside would end the block early, so they are
 * replaced.
 */
export function codeFence(text: string, max: number = LIMITS.sectionText): string {
  const body = escapeMrkdwn(text).replaceAll('```', "'''");
  return `\`\`\`${clip(body, Math.max(0, max - 6))}\`\`\``;
}
