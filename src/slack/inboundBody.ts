import { parse as parseQuery } from 'node:querystring';
import { z } from 'zod';

/**
 * What Slack may deliver to the bot, checked before Bolt sees it. Bolt trusts a signed body:
 * `payload=null` reaches `body.ssl_check` and throws outside any handler (the process
 * exits), a `block_actions` without `user` is a 500, and a body Bolt cannot type (`{}`,
 * `[1,2,3]`) is never acknowledged (a 404 after three seconds). Each of these is answered
 * here instead, at once, with what was wrong. Only the fields the bot's listeners and Bolt's
 * routing read are required; everything else Slack sends passes untouched.
 */

/** What the app listens for: any other command or modal would never be acknowledged. */
export interface Listened {
  /** Slash commands (`/runbook`). */
  commands: readonly string[];
  /** Callback ids of the modals it opens. */
  views: readonly string[];
}

/** A signed body that is not one the bot can handle, with the reason, in a few words. */
export type BodyCheck = { ok: true; body: Record<string, unknown> } | { ok: false; reason: string };

/** Slack sends form-encoded bodies; Bolt form-parses only this exact content type. */
const FORM = 'application/x-www-form-urlencoded';

/**
 * The body as Bolt's HTTP receiver will read it (a form's `payload` field is JSON, any other
 * content type is JSON as a whole), then checked with {@link checkInboundBody}.
 */
export function parseInboundBody(
  raw: string,
  contentType: string | undefined,
  listened: Listened,
): BodyCheck {
  let body: unknown;
  if (contentType === FORM) {
    const form = parseQuery(raw);
    if (form.payload === undefined) body = form;
    else if (typeof form.payload !== 'string') return refuse('the form has more than one `payload` field');
    else {
      const parsed = parseJson(form.payload);
      if (!parsed.ok) return refuse('the form field `payload` is not JSON');
      body = parsed.value;
    }
  } else {
    if (raw.trim() === '') return refuse('the body is empty');
    const parsed = parseJson(raw);
    if (!parsed.ok) return refuse(`the body is neither form-encoded (content-type ${FORM}) nor JSON`);
    body = parsed.value;
  }
  return checkInboundBody(body, listened);
}

/**
 * A parsed body (an HTTP request's, or a Socket Mode envelope's payload) that Bolt can route
 * and the bot's listeners can read without guessing: a slash command the bot registered, a
 * button click, a modal submission, or Slack's URL verification.
 */
export function checkInboundBody(body: unknown, listened: Listened): BodyCheck {
  if (!isRecord(body)) return refuse(`the body is ${describe(body)}, not an object`);
  if (typeof body.type === 'string') {
    const schema = INTERACTIONS[body.type];
    if (!schema) return refuse(`runbook-bot does not handle "${clipped(body.type)}" requests`);
    const checked = verdict(schema.safeParse(body), body, body.type);
    const view = body.type === 'view_submission' && isRecord(body.view) ? body.view.callback_id : undefined;
    if (checked.ok && typeof view === 'string' && !listened.views.includes(view))
      return refuse(`runbook-bot opened no modal "${clipped(view)}"`);
    return checked;
  }
  if (body.type !== undefined) return refuse('`type` is not a string');
  if (body.command !== undefined) {
    const parsed = slashCommand.safeParse(body);
    if (!parsed.success) return verdict(parsed, body, 'slash command');
    const { commands } = listened;
    if (!commands.includes(parsed.data.command))
      return refuse(
        `runbook-bot has no command ${clipped(parsed.data.command)} (it answers ${commands.join(' and ')})`,
      );
    return { ok: true, body };
  }
  if (body.payload !== undefined) return refuse('`payload` is not one JSON object');
  if (Object.keys(body).length === 0) return refuse('the body has no fields');
  return refuse('the body is neither a slash command (no `command`) nor an interaction (no `type`)');
}

const slackId = z.string().min(1).max(64);
const user = z.looseObject({ id: slackId });

/** A form field Slack sends once; a repeated one arrives as an array and is refused. */
const slashCommand = z.looseObject({
  command: z.string().regex(/^\/\S{1,31}$/, 'must be a command name such as /runbook'),
  user_id: slackId,
  text: z.string().optional(),
});

const blockActions = z.looseObject({
  type: z.literal('block_actions'),
  user,
  actions: z
    .array(
      z.looseObject({
        action_id: z.string().min(1).max(255),
        value: z.string().optional(),
        action_ts: z.string().optional(),
      }),
    )
    .min(1),
  channel: z.looseObject({ id: slackId }).nullish(),
  message: z.looseObject({ ts: z.string().optional() }).nullish(),
  trigger_id: z.string().optional(),
  response_url: z.string().optional(),
});

const viewSubmission = z.looseObject({
  type: z.literal('view_submission'),
  user,
  view: z.looseObject({
    id: slackId,
    callback_id: z.string().max(255),
    private_metadata: z.string(),
    blocks: z.array(z.looseObject({ type: z.string(), block_id: z.string().optional() })),
    state: z.looseObject({
      values: z.record(
        z.string(),
        z.record(
          z.string(),
          z.looseObject({
            value: z.string().nullish(),
            // A menu's answer (the parameters modal offers values the run's checks found).
            selected_option: z.looseObject({ value: z.string() }).nullish(),
          }),
        ),
      ),
    }),
  }),
});

const urlVerification = z.looseObject({ type: z.literal('url_verification'), challenge: z.string() });

/** The interactions the bot listens for; any other `type` would never be acknowledged. */
const INTERACTIONS: Record<string, z.ZodType> = {
  block_actions: blockActions,
  view_submission: viewSubmission,
  url_verification: urlVerification,
};

function verdict(
  parsed: { success: true } | { success: false; error: z.ZodError },
  body: Record<string, unknown>,
  what: string,
): BodyCheck {
  if (parsed.success) return { ok: true, body };
  const [issue] = parsed.error.issues;
  if (!issue) return refuse(`${what} is invalid`);
  const path = issue.path.map(String).join('.') || '(top level)';
  const value = issue.path.reduce<unknown>(
    (at, key) =>
      at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined,
    body,
  );
  const problem =
    value === undefined
      ? 'is missing'
      : issue.code === 'invalid_type'
        ? `is ${describe(value)}, not ${article(issue.expected)}`
        : issue.message;
  return refuse(`${what}: \`${path}\` ${problem}`);
}

function article(kind: string): string {
  return /^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`;
}

function refuse(reason: string): BodyCheck {
  return { ok: false, reason };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return article(typeof value);
}

function clipped(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text).slice(1, -1);
}
