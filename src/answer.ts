/**
 * The one shape of "no", from the state database's transition to the reply in Slack or the
 * terminal: why it was refused, in words for the person who asked. A layer that knows more
 * (when it will be due, the request as it stands) adds fields; nobody renames `reason`.
 */
export interface Refusal {
  readonly ok: false;
  readonly reason: string;
  /** Commands worth trying instead, which each medium spells its own way. */
  readonly suggestions?: readonly Suggestion[];
}

/**
 * A command worth trying next, in the words Slack and the terminal share (`list`,
 * `match <symptom>`): Slack spells it `/runbook list`, a terminal `runbook-bot list`, so
 * the use case that suggests it composes neither.
 */
export interface Suggestion {
  /** Whose words: `/runbook …` or `/incident …` in Slack. */
  readonly family: 'runbook' | 'incident';
  /** The words after the family, placeholders in angle brackets. */
  readonly words: string;
  /** What it does, as the rest of the sentence: "shows them all". */
  readonly does: string;
}

/** How a medium writes a suggested command, e.g. `/runbook list`. */
export type SpellCommand = (suggestion: Suggestion) => string;

/** "`/runbook list` shows them all; `/runbook match <symptom>` finds one by symptom." */
export function suggestionsText(suggestions: readonly Suggestion[], spell: SpellCommand): string {
  if (suggestions.length === 0) return '';
  const sentence = suggestions.map((suggestion) => `\`${spell(suggestion)}\` ${suggestion.does}`).join('; ');
  return `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`;
}

/** Done, with words when there is more to say than the change itself shows. */
export interface Done {
  readonly ok: true;
  readonly text?: string;
}

/** What a use case answers the person who asked: done, or refused. */
export type Answer = Done | Refusal;

export function refusal(reason: string): Refusal;
export function refusal<Facts extends object>(reason: string, facts: Facts): Refusal & Facts;
export function refusal(reason: string, facts: object = {}): Refusal {
  return { ok: false, reason, ...facts };
}

export function done(text?: string): Done;
export function done<Facts extends object>(text: string, facts: Facts): Done & Facts;
export function done(text?: string, facts: object = {}): Done {
  return text === undefined ? { ok: true, ...facts } : { ok: true, text, ...facts };
}

/**
 * The words for the person who asked, with the commands a refusal suggests spelled by
 * `spell`; undefined for a success with nothing to add.
 */
export function answerText(answer: Answer, spell?: SpellCommand): string | undefined {
  if (answer.ok) return answer.text;
  const suggested = spell && answer.suggestions ? suggestionsText(answer.suggestions, spell) : '';
  return suggested ? `${answer.reason} ${suggested}` : answer.reason;
}
