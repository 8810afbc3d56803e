/*
 * Times as people type them: a time zone's name, a response time in words. Apart from
 * time.ts (which writes times, with date-fns) so that reading configuration loads no
 * formatting library: every CLI command reads the configuration.
 */

/** Whether `zone` is an IANA time zone this runtime knows (Intl is what formats with it). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const DURATION_UNITS_MS: Array<[RegExp, number]> = [
  [/^(?:s|secs?|seconds?)$/, 1000],
  [/^(?:m|mins?|minutes?)$/, 60_000],
  [/^(?:h|hrs?|hours?)$/, 3_600_000],
  [/^(?:d|days?)$/, 86_400_000],
];

/**
 * A response time as people write it in a severity table or a policy file, in ms:
 * "Immediate" is 0, "< 15 minutes", "Within 30 min", "1h", "24 hours", "Next day" (24 h).
 * Undefined when it names no time ("Post-incident", "Business hours").
 */
export function parseDurationPhrase(phrase: string): number | undefined {
  const text = phrase
    .trim()
    .toLowerCase()
    .replace(/^(?:<=?|≤|under|within|by|after|in)\s*/, '')
    .trim();
  if (/^(?:immediate(?:ly)?|now|asap|at once)$/.test(text)) return 0;
  if (/^next (?:business |working )?day$/.test(text)) return 86_400_000;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(text);
  if (!match) return undefined;
  const unit = DURATION_UNITS_MS.find(([pattern]) => pattern.test(match[2]!));
  return unit ? Math.round(Number(match[1]) * unit[1]) : undefined;
}
