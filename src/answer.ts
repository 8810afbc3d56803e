/**
 * The one shape of "no", from the state database's transition to the reply in Slack or the
 * terminal: why it was refused, in words for the person who asked. A layer that knows more
 * (when it will be due, the request as it stands) adds fields; nobody renames `reason`.
 */
export interface Refusal {
  readonly ok: false;
  readonly reason: string;
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

/** The words for the person who asked; undefined for a success with nothing to add. */
export function answerText(answer: Answer): string | undefined {
  return answer.ok ? answer.text : answer.reason;
}
