import { redactText } from '../redact.js';
import { utcMinute } from '../time.js';
import { incidentChange, PAGER_NAME, type RenderableEvent } from './events.js';

/**
 * A part of an event's description. Each medium renders parts its own way: a person is a
 * mention in Slack and a name in the report; code is a code span, shown whole in the report
 * and cut to one short line in Slack; words are escaped where the medium needs it.
 */
export type Part =
  /** Our own words, and short ids. */
  | string
  /** A Slack user id, or 'runbook-bot'. */
  | { person: string }
  /** SQL or a command exactly as recorded (secrets redacted). */
  | { code: string }
  /** Words someone else wrote: a reason, a status, an error (secrets redacted). */
  | { text: string };

export type Phrase = Part[];

/** Slack user ids: the people a medium names or mentions. */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * What an event says, independent of medium: the one place its wording lives. Events
 * stored before their data was structured are read too (see incidentChange), so old rows
 * render as they did and the hash chain over them is untouched.
 */
export function describeAuditEvent(event: RenderableEvent): Phrase {
  const who: Part = { person: event.actor };
  const request: Phrase = event.requestId ? [`request ${short(event.requestId)}`] : ['the request'];
  const data = event.data;
  const planPart = typeof data.planHash === 'string' ? `plan ${short(data.planHash)}` : '';
  const plan = details(planPart);
  const step = typeof data.step === 'string' ? ` step ${data.step}` : '';
  switch (event.kind) {
    case 'command':
      return [
        who,
        ' ran ',
        code(data.command ?? data.text, '(command not recorded)'),
        // Started by a procedure schedule (schedules/scheduledProcedureJob.ts), not a person.
        ...(typeof data.schedule === 'string' ? [' on its schedule ', text(data.schedule)] : []),
      ];
    case 'preview':
      return typeof data.error === 'string'
        ? [who, `'s preview of${step} failed: `, text(data.error)]
        : [who, ` previewed${step}: `, code(data.sql), plan];
    case 'approval_requested': {
      const needed = typeof data.requiredApprovals === 'number' ? `${data.requiredApprovals} needed` : '';
      return [who, ' requested approval of ', ...request, details(planPart, needed)];
    }
    case 'approved': {
      const count =
        typeof data.approvals === 'number' && typeof data.required === 'number'
          ? `${data.approvals} of ${data.required}`
          : '';
      return [who, ' approved ', ...request, details(planPart, count)];
    }
    case 'rejected':
      return [who, ' rejected ', ...request];
    case 'expired':
      return [...request, ' expired before it was approved'];
    case 'lapsed':
      return [...request, ' lapsed: approved, but not started within its execution window; nothing was run'];
    case 'execution_started':
      return ['execution started: ', code(data.sql), plan];
    case 'execution_finished': {
      // Its summary already says "executed, but verification still fails: …".
      if (data.status === 'succeeded' && data.met === false && typeof data.summary === 'string')
        return [text(data.summary)];
      const status = typeof data.status === 'string' ? data.status.replaceAll('_', ' ') : 'finished';
      return [`execution ${status}`, ...(typeof data.summary === 'string' ? [': ', text(data.summary)] : [])];
    }
    case 'outcome_unknown':
      return [
        'outcome of ',
        ...request,
        ' unknown: the worker stopped during execution; it was not run again',
      ];
    case 'verification': {
      const parts = [
        typeof data.before === 'string' ? ['before: ', text(data.before)] : [],
        typeof data.after === 'string' ? ['after: ', text(data.after)] : [],
      ].filter((part) => part.length > 0);
      const verdict =
        data.met === true ? ['; expectations met'] : data.met === false ? ['; still failing'] : [];
      return [
        'verification of ',
        ...request,
        ...parts.flatMap((part, index) => [index === 0 ? ': ' : '; ', ...part]),
        ...verdict,
      ];
    }
    case 'reverted': {
      const found =
        data.outcome === 'already_enabled'
          ? 'row-level security was on already; nothing to undo'
          : data.outcome === 'table_gone'
            ? 'the table is gone; nothing to undo'
            : 'turned row-level security back on: ';
      return ['undoing ', ...request, ': ', found, ...(data.outcome === 'reenabled' ? [code(data.sql)] : [])];
    }
    case 'manual_step':
      return [who, ` marked${step || ' a manual step'} done`];
    case 'incident_declared':
      return typeof data.number === 'number'
        ? [who, ` declared INC-${data.number} ${String(data.severity)}: `, text(data.title)]
        : [who, ' declared ', text(data.incident ?? 'the incident')];
    case 'incident_updated':
      return [who, ' ', ...incidentUpdate(event.actor, data)];
    case 'incident_resolved':
      return [
        who,
        ' resolved the incident',
        ...(typeof data.summary === 'string' && data.summary ? [': ', text(data.summary)] : []),
      ];
    case 'incident_timer':
      return incidentTimer(data);
    case 'incident_page':
      return incidentPage(data);
    case 'refused': {
      // Repeats of one refusal are audited together, with their count (refusalRepeats.ts).
      const times = typeof data.count === 'number' && data.count > 1 ? ` ${data.count} times` : '';
      const again = typeof data.repeatOf === 'number' ? ' again' : '';
      return [
        who,
        ` was refused${again}${times}`,
        ...(event.requestId ? [' on ', ...request] : []),
        ...(typeof data.reason === 'string' ? [': ', text(data.reason)] : []),
      ];
    }
  }
}

function incidentUpdate(actor: string, data: Record<string, unknown>): Phrase {
  const change = incidentChange(data);
  switch (change?.change) {
    case 'commander':
      return change.from && change.from !== actor
        ? ['handed command from ', { person: change.from }, ' to ', { person: change.to }]
        : ['handed command to ', { person: change.to }];
    case 'severity':
      return [`changed the severity ${change.from ? `from ${change.from} ` : ''}to ${change.to}`];
    case 'status':
      return ['posted a status: ', text(change.text)];
    default:
      return [text(data.change ?? 'updated the incident')];
  }
}

function incidentTimer(data: Record<string, unknown>): Phrase {
  const commander: Part = { person: String(data.commander) };
  const severity = String(data.severity);
  const deadline = typeof data.deadline === 'string' ? utcMinute(new Date(data.deadline)) : 'soon';
  const escalation = data.escalation as { from?: unknown; to?: unknown } | undefined;
  switch (data.timer) {
    case 'response-warning':
      if (typeof data.commander !== 'string') break;
      return [
        `${severity} response target passes at ${deadline} and nobody has acknowledged or acted yet; reminded `,
        commander,
      ];
    case 'escalation':
      if (!escalation) break;
      return [
        `${severity} response target passed with no acknowledgement: escalated from `,
        text(escalation.from),
        ' to ',
        text(escalation.to),
      ];
    case 'milestone': {
      const milestone = data.milestone as { atMs?: unknown; text?: unknown } | undefined;
      if (!milestone || typeof milestone.atMs !== 'number') break;
      const minutes = Math.round(milestone.atMs / 60_000);
      return [`${severity} milestone at ${minutes} min: `, text(milestone.text)];
    }
    case 'status-reminder':
      if (typeof data.commander !== 'string') break;
      return ['reminded ', commander, ' to post a status update'];
  }
  // Events from before timers were structured keep their words, ids written "@U123".
  return mentionsIn(typeof data.message === 'string' ? data.message : 'timer');
}

function incidentPage(data: Record<string, unknown>): Phrase {
  const pager = PAGER_NAME[data.provider as keyof typeof PAGER_NAME] ?? String(data.provider);
  const what =
    data.action === 'resolve'
      ? `${data.provider === 'opsgenie' ? 'closing' : 'resolving'} the ${pager} alert`
      : `paging ${pager}`;
  if (data.outcome === 'sent') return [`${what}: accepted`];
  return [`${what} failed`, ...(typeof data.reason === 'string' ? [': ', text(data.reason)] : [])];
}

/** "@U123" in older plain words becomes a person again. */
function mentionsIn(words: string): Phrase {
  return words
    .split(/@([UW][A-Z0-9]{2,})\b/)
    .map((piece, index): Part => (index % 2 === 1 ? { person: piece } : text(piece)))
    .filter((part) => !(typeof part === 'object' && 'text' in part && part.text === ''));
}

/** The description as plain text (terminal, JSON): people by `nameOf`, on one line. */
export function plainText(phrase: Phrase, nameOf: (id: string) => string = (id) => id): string {
  return phrase
    .map((part) =>
      typeof part === 'string'
        ? part
        : 'person' in part
          ? nameOf(part.person)
          : oneLine('code' in part ? part.code : part.text),
    )
    .join('');
}

/** Whitespace runs, line breaks included, as one space. */
export function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

/** ` (a, b)` of the non-empty parts, or nothing. */
function details(...parts: string[]): string {
  const shown = parts.filter(Boolean);
  return shown.length > 0 ? ` (${shown.join(', ')})` : '';
}

function short(id: string): string {
  return id.length > 8 ? `${id.slice(0, 8)}…` : id;
}

function text(value: unknown): Part {
  return { text: redactText(String(value)) };
}

function code(value: unknown, missing = '(no SQL recorded)'): Part {
  if (typeof value !== 'string' || value.trim() === '') return missing;
  return { code: redactText(value) };
}
