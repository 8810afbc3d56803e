/**
 * Ids for runbooks and procedures: lower-case ASCII letters, digits and single hyphens.
 * Everything else (punctuation, quotes, emoji, mojibake) is dropped rather than
 * transliterated, so an id does not change when a heading's emoji is repaired or removed.
 * `## üö® CRITICAL: "Database API Connection Lost" Error` →
 * `critical-database-api-connection-lost-error`.
 */
export function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/[ -]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
