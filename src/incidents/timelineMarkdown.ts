import { describeAuditEvent, type Phrase, plainText, SLACK_USER_ID } from '../audit/describe.js';
import type { RenderableEvent } from '../audit/events.js';

/**
 * An event in the incident report, which is read outside Slack: people by name (`people`,
 * looked up by the caller), SQL exactly as executed in a code span, nothing escaped for
 * Slack. One line, for a timeline table cell.
 */
export function auditEventMarkdown(event: RenderableEvent, people: Record<string, string>): string {
  return phraseMarkdown(describeAuditEvent(event), people);
}

export function phraseMarkdown(phrase: Phrase, people: Record<string, string>): string {
  return phrase
    .map((part) =>
      typeof part === 'string'
        ? part
        : 'person' in part
          ? personName(part.person, people)
          : 'code' in part
            ? // A table row is one line; a code span shows a line break as a space anyway.
              code(part.code.replace(/\r?\n|\r/g, ' '))
            : part.text,
    )
    .join('');
}

/** The description as plain text with people by name: the report's JSON timeline. */
export function phrasePlain(phrase: Phrase, people: Record<string, string>): string {
  return plainText(phrase, (id) => personName(id, people));
}

/** The Slack user ids a description names. */
export function peopleIn(phrase: Phrase): string[] {
  return phrase.flatMap((part) => (typeof part === 'object' && 'person' in part ? [part.person] : []));
}

/** Slack ids leave Slack as "@name" (or "@U123" when the name is unknown); other actors (runbook-bot) stay as they are. */
export function personName(id: string, people: Record<string, string>): string {
  return SLACK_USER_ID.test(id) ? `@${people[id] ?? id}` : id;
}

/** An inline code span that survives backticks in the text. */
export function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const ticks = '`'.repeat(longest + 1);
  return longest > 0 ? `${ticks} ${text} ${ticks}` : `${ticks}${text}${ticks}`;
}
