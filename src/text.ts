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

/** Edit distance, for "did you mean" among names: a catalog's, targets', procedures'. */
export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

/**
 * The closest names to `name`, near enough to be a typo or a singular/plural slip
 * (`job` for `jobs_db` is not offered; `jobs_dbs` for `jobs_db` is).
 */
export function closestNames(name: string, candidates: Iterable<string>, max = 3): string[] {
  const wanted = name.toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return [...new Set(candidates)]
    .map((candidate) => {
      const lower = candidate.toLowerCase();
      const contains =
        lower.length > 3 && wanted.length > 3 && (lower.includes(wanted) || wanted.includes(lower));
      return {
        candidate,
        distance: contains ? Math.min(1, editDistance(wanted, lower)) : editDistance(wanted, lower),
      };
    })
    .filter((entry) => entry.distance <= limit)
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, max)
    .map((entry) => entry.candidate);
}

/** `did you mean "connections"?` for a mistyped name, or undefined when nothing is close. */
/** `a`, `a or b`, `a, b or c`. */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const close = closestNames(name, candidates);
  return close.length > 0 ? `did you mean ${orList(close.map((candidate) => `"${candidate}"`))}?` : undefined;
}

/**
 * "a, b, c": names in a sentence, at most `max` of them, then "and 190 more" — a fleet of 200
 * targets must not make an error message a wall.
 */
export function namesText(names: readonly string[], max = 20): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${(names.length - max).toLocaleString('en-US')} more`;
}
