/**
 * Error strings a person may paste into `/runbook match`: what the runbook quotes in a
 * procedure's title and symptoms ("Circuit breaker is open"), inline code that reads like an
 * error (`PGRST002: Could not query…`), and error codes anywhere in its prose (PGRST002,
 * SQLSTATE 42P01).
 */

const QUOTED = /"([^"\n]{2,160})"|“([^”\n]{2,160})”/g;

/** Vendor codes such as PGRST002, ORA00942, HTTP503. */
const VENDOR_CODE = /\b[A-Z]{3,}\d{2,}\b/g;
/** SQLSTATE-like: two digits then three of [0-9A-Z], with a letter so plain numbers don't count. */
const SQLSTATE = /\b\d{2}[0-9A-Z]{3}\b/g;

const ERROR_WORDS =
  /\b(error|errors|fail(ed|ure|s)?|could not|cannot|can't|denied|invalid|timeout|timed out|refused|violat\w*|not found|unable|exception|too many|lost|expired|mismatch|conflict)\b/i;

function quotedStrings(text: string): string[] {
  return [...text.matchAll(QUOTED)].map((match) => (match[1] ?? match[2] ?? '').trim()).filter(Boolean);
}

/** A code named as a SQLSTATE may be all digits: `SQLSTATE 53300`. */
const NAMED_SQLSTATE = /\bSQLSTATE\s*:?\s*([0-9A-Z]{5})\b/gi;

function errorCodes(text: string): string[] {
  const sqlstates = [...text.matchAll(SQLSTATE)]
    .map((match) => match[0])
    .filter((code) => /[A-Z]/.test(code));
  const named = [...text.matchAll(NAMED_SQLSTATE)].map((match) => (match[1] ?? '').toUpperCase());
  return [...(text.match(VENDOR_CODE) ?? []), ...sqlstates, ...named];
}

/** `PGRST002: Could not query…` is an error; `system_logs` or `queued` is a name. */
function looksLikeError(span: string): boolean {
  if (/^[A-Z]{3,}\d{2,}\b/.test(span) || /^\d{2}[0-9A-Z]{3}$/.test(span)) return true;
  return /\s/.test(span) && ERROR_WORDS.test(span);
}

function errorLikeCodeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`\n]+)`/g)].map((match) => (match[1] ?? '').trim()).filter(looksLikeError);
}

/** De-duplicated ignoring case, first spelling kept, in order of appearance. */
export function collectErrorStrings(parts: { titleAndSymptoms: string; prose: string }): string[] {
  const found = [
    ...quotedStrings(parts.titleAndSymptoms),
    ...errorLikeCodeSpans(parts.titleAndSymptoms),
    ...errorCodes(parts.titleAndSymptoms),
    ...errorCodes(parts.prose),
  ];
  const seen = new Set<string>();
  return found.filter((text) => {
    const key = text.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
