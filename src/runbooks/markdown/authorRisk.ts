import type { Risk } from '../model.js';

/** Words with which authors mark a step as one to think twice about. */
const CAUTION =
  /\b(use with caution|with caution|use sparingly|careful(?:ly)?|dangerous|danger|last resort|admin only|destructive|irreversible|cannot be undone|permanently)\b/i;
/** "(safe)", "safe:": the author vouching that the step cannot hurt much. */
const SAFE = /(?:^|[\s(])safe(?:[\s):,.]|$)/i;
/** Risk the classifier derived from a function's name alone: a guess the author's word outweighs. */
const FROM_NAME = /whose name says it removes data/;

/**
 * The risk of an action as its author wrote it in the words around it (its comment, its list
 * item, the option's label): "use with caution", "CAREFUL!", "last resort", "admin only" make
 * it high; "(safe)" lowers a risk the bot only guessed from a function's name to medium. It
 * never lowers what the statement itself shows (a DELETE without WHERE stays high), and never
 * below medium: an action changes something.
 */
export function authorRisk(
  words: string,
  derived: { risk: Risk; reasons: string[] },
): { risk: Risk; reasons: string[] } {
  const caution = CAUTION.exec(words);
  if (caution) return { risk: 'high', reasons: [`the runbook says "${caution[1]}"`, ...derived.reasons] };
  const guessed = derived.reasons.filter((reason) => FROM_NAME.test(reason));
  if (
    SAFE.test(words) &&
    derived.risk === 'high' &&
    guessed.length > 0 &&
    guessed.length === derived.reasons.length
  )
    return { risk: 'medium', reasons: ['the runbook calls it safe', ...derived.reasons] };
  return derived;
}
