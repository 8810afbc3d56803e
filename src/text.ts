/**
 * Cuts `text` to at most `max` UTF-16 units, ending in `marker` when it was cut (never
 * silently), and never between the two halves of a character: half an emoji is invalid in
 * jsonb and shows as a box in Slack.
 */
export function clip(text: string, max: number, marker = '…'): string {
  if (text.length <= max) return text;
  let end = max - marker.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}${marker}`;
}

/**
 * "1 row", "2 rows", "1,500 rows": a count with its noun, the one way every message writes
 * one (`many` for nouns that do not just take an s: "1 reply", "2 replies").
 */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}
