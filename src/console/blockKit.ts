/**
 * Block Kit validation for the local Slack console: refuse what real Slack refuses, with Slack's own
 * error codes and `[ERROR] <what> [json-pointer:/...]` messages. Deliberately written from Slack's
 * documented limits rather than shared with src/slack, so a bug there cannot hide itself here.
 */
import { z } from 'zod';

/** Slack's answer to a payload it refuses: the error code plus response_metadata.messages. */
export interface BlockKitRefusal {
  error: 'invalid_blocks' | 'invalid_arguments' | 'msg_too_long' | 'no_text' | 'msg_blocks_too_long';
  messages: string[];
}

const MAX_TEXT_CHARS = 40_000;
const MAX_MESSAGE_BLOCKS = 50;
const MAX_VIEW_BLOCKS = 100;
// Slack refuses very large block payloads with msg_blocks_too_long but does not document the limit;
// 200,000 characters of JSON is a conservative stand-in that well-formed messages never reach.
const MAX_BLOCKS_JSON_CHARS = 200_000;

// Text objects: the limit on `text` depends on where the object sits, so these are factories.
const plainText = (max: number) =>
  z.strictObject({
    type: z.literal('plain_text'),
    text: z.string().min(1).max(max),
    emoji: z.boolean().optional(),
  });
const mrkdwn = (max: number) =>
  z.strictObject({
    type: z.literal('mrkdwn'),
    text: z.string().min(1).max(max),
    verbatim: z.boolean().optional(),
  });
const textObject = (max: number) => z.discriminatedUnion('type', [plainText(max), mrkdwn(max)]);

const actionId = z.string().max(255);
const style = z.enum(['primary', 'danger']);

const confirmDialog = z.strictObject({
  title: plainText(100),
  text: textObject(300),
  confirm: plainText(30),
  deny: plainText(30),
  style: style.optional(),
});

const button = z.strictObject({
  type: z.literal('button'),
  text: plainText(75),
  action_id: actionId.optional(),
  value: z.string().max(2000).optional(),
  url: z.string().max(3000).optional(),
  style: style.optional(),
  confirm: confirmDialog.optional(),
  accessibility_label: z.string().max(75).optional(),
});

const imageElement = z.strictObject({
  type: z.literal('image'),
  image_url: z.string().max(3000),
  alt_text: z.string().max(2000),
});

/** Elements the console does not model in detail: Slack still needs their type and an action_id. */
const shallowElement = <T extends string>(type: T) =>
  z.looseObject({ type: z.literal(type), action_id: actionId });

const plainTextInput = z.strictObject({
  type: z.literal('plain_text_input'),
  action_id: actionId.optional(),
  initial_value: z.string().optional(),
  multiline: z.boolean().optional(),
  placeholder: plainText(150).optional(),
  min_length: z.number().int().min(0).max(3000).optional(),
  max_length: z.number().int().min(1).max(3000).optional(),
  focus_on_load: z.boolean().optional(),
  dispatch_action_config: z.unknown().optional(),
});

// Options with text and value only: the bot's menus use nothing else, and a limit met here is met in Slack.
const option = z.strictObject({ text: plainText(75), value: z.string().max(150) });

/** A menu in an input block: Slack allows at most 100 options. */
const staticSelect = z.strictObject({
  type: z.literal('static_select'),
  action_id: actionId.optional(),
  placeholder: plainText(150).optional(),
  options: z.array(option).min(1).max(100),
  initial_option: option.optional(),
  focus_on_load: z.boolean().optional(),
});

const blockId = { block_id: z.string().max(255).optional() };

const header = z.strictObject({ type: z.literal('header'), text: plainText(150), ...blockId });

const section = z
  .strictObject({
    type: z.literal('section'),
    text: textObject(3000).optional(),
    fields: z.array(textObject(2000)).max(10).optional(),
    accessory: z
      .discriminatedUnion('type', [
        button,
        imageElement,
        shallowElement('overflow'),
        shallowElement('static_select'),
        shallowElement('datepicker'),
      ])
      .optional(),
    expand: z.boolean().optional(),
    ...blockId,
  })
  // Slack's own wording, and it points at `type` rather than at either missing field.
  .refine((block) => block.text !== undefined || block.fields !== undefined, {
    message: 'must define either `text` or `fields`',
    path: ['type'],
  });

const divider = z.strictObject({ type: z.literal('divider'), ...blockId });

const context = z.strictObject({
  type: z.literal('context'),
  elements: z
    .array(z.discriminatedUnion('type', [plainText(3000), mrkdwn(3000), imageElement]))
    .min(1)
    .max(10),
  ...blockId,
});

const actions = z.strictObject({
  type: z.literal('actions'),
  elements: z
    .array(
      z.discriminatedUnion('type', [
        button,
        shallowElement('static_select'),
        shallowElement('overflow'),
        shallowElement('datepicker'),
        shallowElement('checkboxes'),
        shallowElement('radio_buttons'),
      ]),
    )
    .min(1)
    .max(25),
  ...blockId,
});

const image = z.strictObject({
  type: z.literal('image'),
  image_url: z.string().max(3000),
  alt_text: z.string().max(2000),
  title: plainText(2000).optional(),
  ...blockId,
});

// The bot's rich text comes from a Markdown converter; its inner shape is not this module's concern.
const richText = z.strictObject({ type: z.literal('rich_text'), elements: z.array(z.unknown()), ...blockId });

const input = z.strictObject({
  type: z.literal('input'),
  label: plainText(2000),
  element: z.discriminatedUnion('type', [
    plainTextInput,
    staticSelect,
    shallowElement('checkboxes'),
    shallowElement('radio_buttons'),
    shallowElement('datepicker'),
  ]),
  hint: plainText(2000).optional(),
  optional: z.boolean().optional(),
  dispatch_action: z.boolean().optional(),
  ...blockId,
});

// Inputs only make sense where there is a submit button, so messages refuse them outright.
const inputInMessage = z
  .looseObject({ type: z.literal('input') })
  .refine(() => false, { message: 'input blocks are not allowed in messages', path: ['type'] });

/** block_ids name blocks in interaction payloads, so Slack insists they are unique per surface. */
// zod runs refinements even when elements failed, so this reads the blocks defensively.
function uniqueBlockIds(blocks: unknown[], ctx: z.RefinementCtx): void {
  const seen = new Set<unknown>();
  blocks.forEach((block, index) => {
    const id = isRecord(block) ? block.block_id : undefined;
    if (id === undefined) return;
    if (seen.has(id))
      ctx.addIssue({ code: 'custom', message: 'duplicate block_id', path: [index, 'block_id'] });
    seen.add(id);
  });
}

const messageBlocks = z
  .array(
    z.discriminatedUnion('type', [
      header,
      section,
      divider,
      context,
      actions,
      image,
      richText,
      inputInMessage,
    ]),
  )
  .max(MAX_MESSAGE_BLOCKS)
  .superRefine(uniqueBlockIds);

const viewBlocks = z
  .array(z.discriminatedUnion('type', [header, section, divider, context, actions, image, richText, input]))
  .max(MAX_VIEW_BLOCKS)
  .superRefine(uniqueBlockIds);

const viewCommon = {
  blocks: viewBlocks,
  callback_id: z.string().max(255).optional(),
  private_metadata: z.string().max(3000).optional(),
  external_id: z.string().max(255).optional(),
};

const modal = z
  .strictObject({
    type: z.literal('modal'),
    title: plainText(24),
    submit: plainText(24).optional(),
    close: plainText(24).optional(),
    clear_on_close: z.boolean().optional(),
    notify_on_close: z.boolean().optional(),
    submit_disabled: z.boolean().optional(),
    ...viewCommon,
  })
  // Without a submit button the inputs could never be sent; pointer at the view, as for any missing field.
  .refine((view) => view.submit !== undefined || !hasInput(view.blocks), {
    message: 'missing required field: submit (a modal with input blocks needs one)',
  });

function hasInput(blocks: unknown): boolean {
  return Array.isArray(blocks) && blocks.some((block) => isRecord(block) && block.type === 'input');
}

const home = z.strictObject({ type: z.literal('home'), ...viewCommon });

const viewSchema = z.discriminatedUnion('type', [modal, home]);

/**
 * For chat.postMessage / chat.postEphemeral / chat.update / response_url payloads. `blocks` may be a JSON
 * string (form-encoded Web API calls) or an array or undefined. Returns undefined when Slack would accept it.
 */
export function checkMessage(args: { text?: unknown; blocks?: unknown }): BlockKitRefusal | undefined {
  const blocks = parseJsonArgument(args.blocks);
  if (blocks !== undefined && !Array.isArray(blocks))
    return refuse('invalid_blocks', 'must be an array', '/blocks');
  if (args.text !== undefined && typeof args.text !== 'string')
    return refuse('invalid_arguments', 'must be a string', '/text');
  const text = args.text ?? '';
  if (text === '' && (blocks === undefined || blocks.length === 0))
    return refuse('no_text', 'must provide `text` or `blocks`', '/text');
  if (text.length > MAX_TEXT_CHARS)
    return refuse('msg_too_long', `must be less than ${MAX_TEXT_CHARS + 1} characters`, '/text');
  if (blocks === undefined) return undefined;
  if (JSON.stringify(blocks).length > MAX_BLOCKS_JSON_CHARS)
    return refuse('msg_blocks_too_long', 'blocks are too long', '/blocks');
  const result = messageBlocks.safeParse(blocks, { reportInput: true });
  return result.success
    ? undefined
    : { error: 'invalid_blocks', messages: messagesOf(result.error, '/blocks') };
}

/**
 * For views.open / views.update / views.push: the `view` argument (object or JSON string).
 * Slack answers invalid_arguments with messages for bad views.
 */
export function checkView(view: unknown): BlockKitRefusal | undefined {
  const parsed = parseJsonArgument(view);
  if (parsed === undefined) return refuse('invalid_arguments', 'missing required field: view', '/view');
  const result = viewSchema.safeParse(parsed, { reportInput: true });
  return result.success
    ? undefined
    : { error: 'invalid_arguments', messages: messagesOf(result.error, '/view') };
}

/**
 * Form-encoded Web API calls carry JSON arguments as strings. An empty string counts as absent;
 * unparsable JSON comes back as the raw string so the caller's shape check refuses it.
 */
export function parseJsonArgument(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (value.trim() === '') return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function refuse(error: BlockKitRefusal['error'], what: string, pointer: string): BlockKitRefusal {
  return { error, messages: [line(what, pointer)] };
}

function line(what: string, pointer: string): string {
  return `[ERROR] ${what} [json-pointer:${pointer}]`;
}

function messagesOf(error: z.ZodError, root: string): string[] {
  return error.issues.flatMap((issue) =>
    describe(issue).map(([what, path]) => line(what, pointerOf(root, path))),
  );
}

/** RFC 6901: `~` and `/` inside a key are escaped. */
function pointerOf(root: string, path: readonly PropertyKey[]): string {
  return root + path.map((key) => `/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** Slack's wording for a zod issue, and where it points (a missing field points at its parent, as Slack does). */
function describe(issue: z.core.$ZodIssue): [string, readonly PropertyKey[]][] {
  const path = issue.path;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined && path.length > 0)
        return [[`missing required field: ${String(path.at(-1))}`, path.slice(0, -1)]];
      return [
        [
          `must be ${issue.expected === 'array' || issue.expected === 'object' ? 'an' : 'a'} ${issue.expected}`,
          path,
        ],
      ];
    case 'too_big':
      if (issue.origin === 'string')
        return [[`must be less than ${Number(issue.maximum) + 1} characters`, path]];
      if (issue.origin === 'array')
        return [[`must provide an array of no more than ${issue.maximum} items`, path]];
      return [[`must be no larger than ${issue.maximum}`, path]];
    case 'too_small':
      if (issue.origin === 'string')
        return [[`must be more than ${Number(issue.minimum) - 1} characters`, path]];
      if (issue.origin === 'array') return [[`must provide at least ${issue.minimum} items`, path]];
      return [[`must be no smaller than ${issue.minimum}`, path]];
    case 'invalid_value':
      return [['must be a valid enum value', path]];
    case 'unrecognized_keys':
      return issue.keys.map((key) => [`unsupported field: ${key}`, [...path, key]]);
    case 'invalid_union': {
      // A discriminated union reports a matching option's own issues, so this one means no option matched.
      if (issue.discriminator === undefined) return [['failed to match all allowed schemas', path]];
      // The issue's path already ends in `type`; its input is the whole object.
      const type = isRecord(issue.input) ? issue.input.type : undefined;
      if (type === undefined) return [['missing required field: type', path.slice(0, -1)]];
      return [[`unsupported type: ${typeof type === 'string' ? type : JSON.stringify(type)}`, path]];
    }
    default:
      return [[issue.message, path]];
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
