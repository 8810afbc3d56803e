import type { ProcedureRef } from './runbookLibrary.js';

export interface ProcedureMatch extends ProcedureRef {
  score: number;
  /** What matched, for the person choosing: error strings first, then words. */
  because: string[];
}

const STOP_WORDS = new Set(
  'a an and are as at be by can for from has have in is it its not of on or our the their this to was were with when why what how'.split(
    ' ',
  ),
);

/** Where a word is found weighs how much it says about the procedure. */
const FIELD_WEIGHTS = { title: 3, symptoms: 2, errors: 2, rootCause: 1, steps: 0.5 } as const;
type Field = keyof typeof FIELD_WEIGHTS;

/** A whole error string or error code found in the text is worth more than any words. */
const ERROR_STRING_BONUS = 8;

function words(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9_]+/g) ?? []).filter(
    (word) => word.length > 1 && !STOP_WORDS.has(word),
  );
}

function fieldsOf({ procedure }: ProcedureRef): Record<Field, Set<string>> {
  return {
    title: new Set(words(procedure.title)),
    symptoms: new Set(words(procedure.symptoms.join(' '))),
    errors: new Set(words(procedure.errorStrings.join(' '))),
    rootCause: new Set(words(procedure.rootCause ?? '')),
    steps: new Set(words(procedure.steps.map((step) => step.title).join(' '))),
  };
}

/**
 * An error string is found in the text when it is contained in it ("Circuit breaker is
 * open"), or when the text holds a code that starts with it (PGRST002 for "PGRST").
 */
function errorStringFound(errorString: string, text: string, textWords: string[]): boolean {
  const wanted = errorString.toLowerCase().trim();
  if (wanted.length < 4) return false;
  if (text.includes(wanted)) return true;
  return /^[a-z0-9]+$/.test(wanted) && textWords.some((word) => word.startsWith(wanted));
}

/**
 * Ranks procedures by how well their symptoms, error strings and titles match a
 * description of what is going wrong ("PGRST002", "too many connections"): word overlap
 * weighted by rarity across all procedures, plus a bonus per error string found whole.
 */
export function matchProcedures(text: string, procedures: ProcedureRef[], limit = 5): ProcedureMatch[] {
  return procedureMatcher(procedures)(text, limit);
}

/**
 * matchProcedures for many texts against one set of procedures: the procedures' words and
 * their rarity are read once.
 */
export function procedureMatcher(
  procedures: ProcedureRef[],
): (text: string, limit?: number) => ProcedureMatch[] {
  const indexed = procedures.map((ref) => ({ ref, fields: fieldsOf(ref) }));
  const documentFrequency = new Map<string, number>();
  for (const { fields } of indexed) {
    const seen = new Set(Object.values(fields).flatMap((set) => [...set]));
    for (const word of seen) documentFrequency.set(word, (documentFrequency.get(word) ?? 0) + 1);
  }
  const rarity = (word: string) =>
    Math.log(1 + indexed.length / (1 + (documentFrequency.get(word) ?? indexed.length)));

  return (text, limit = 5) => {
    const lowered = text.toLowerCase();
    const queryWords = [...new Set(words(text))];
    if (queryWords.length === 0) return [];
    const matches: ProcedureMatch[] = [];
    for (const { ref, fields } of indexed) {
      let score = 0;
      const because: string[] = [];
      for (const errorString of ref.procedure.errorStrings) {
        if (errorStringFound(errorString, lowered, queryWords)) {
          score += ERROR_STRING_BONUS;
          because.push(`"${errorString}"`);
        }
      }
      for (const word of queryWords) {
        let best = 0;
        for (const field of Object.keys(FIELD_WEIGHTS) as Field[]) {
          if (fields[field].has(word)) best = Math.max(best, FIELD_WEIGHTS[field]);
        }
        if (best > 0) {
          score += best * rarity(word);
          because.push(word);
        }
      }
      if (score > 0) matches.push({ ...ref, score, because: [...new Set(because)] });
    }
    return matches
      .sort((a, b) => b.score - a.score || a.procedure.id.localeCompare(b.procedure.id))
      .slice(0, limit);
  };
}
