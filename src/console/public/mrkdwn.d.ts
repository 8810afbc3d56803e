/** Types for mrkdwn.js (plain browser JavaScript, also imported by unit tests). */

/** Names for `<@U…>` and `<#C…>`; undefined falls back to the label or the id. */
export interface MrkdwnLookup {
  userName?(id: string): string | undefined;
  channelName?(id: string): string | undefined;
}

/** Slack mrkdwn (entities as Slack sends them) to HTML in which all text is escaped. */
export function mrkdwnToHtml(text: string, lookup?: MrkdwnLookup): string;

/** A plain_text object's text as escaped HTML (emoji shortcodes converted unless emoji: false). */
export function plainText(textObject: { type?: string; text: string; emoji?: boolean } | undefined): string;

/** Escapes &, <, >, " and ' for HTML text and attributes. */
export function escapeHtml(text: string): string;

/** Known :shortcode: emoji to Unicode; unknown shortcodes stay as they are. */
export function emojify(text: string): string;
