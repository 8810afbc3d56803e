import { checkMessage, checkView, parseJsonArgument } from './blockKit.js';
import type { TriggerIds } from './triggerIds.js';
import { parentOf, SlackApiError, type StoredMessage, type Workspace } from './workspace.js';

/** Arguments as the Web API receives them: form fields (objects JSON-encoded) or a JSON body. */
export type ApiArgs = Record<string, unknown>;

type Method = (args: ApiArgs) => Record<string, unknown>;

export interface WebApiDeps {
  workspace: Workspace;
  triggers: TriggerIds;
  /** The bot token the console issued; anything else is invalid_auth. */
  botToken: string;
  /** Absolute base URL of the console, for upload URLs and file links. */
  baseUrl: () => string;
  /** Socket Mode: the app-level token (xapp-…) and where apps.connections.open sends the app. */
  socketMode?: { appToken: string; openUrl: () => string };
}

/**
 * The part of Slack's Web API the bot uses, with Slack's checks and error codes: a call the
 * real API would refuse is refused here too, so the console finds what nock-only tests miss.
 */
export class WebApi {
  private readonly methods: Record<string, Method>;

  constructor(private readonly deps: WebApiDeps) {
    const { workspace } = deps;
    const bot = workspace.bot.userId;
    this.methods = {
      'auth.test': () => ({
        url: `https://${workspace.team.domain}.slack.com/`,
        team: workspace.team.name,
        user: workspace.bot.name,
        team_id: workspace.team.id,
        user_id: bot,
        bot_id: workspace.bot.botId,
      }),
      'chat.postMessage': (args) => {
        const channel = this.postableChannel(requireString(args, 'channel'));
        const content = messageContent(args);
        const threadTs = optionalString(args, 'thread_ts');
        const metadata = messageMetadata(args.metadata);
        const message = workspace.post({
          channel: channel.id,
          user: bot,
          threadTs,
          ...content,
          ...(metadata ? { metadata } : {}),
        });
        return { channel: channel.id, ts: message.ts, message: this.messageJson(message) };
      },
      // Read by the bot only to learn whether an earlier attempt posted (see slack/posts/postOnce.ts).
      'conversations.history': (args) => {
        const channel = this.readableChannel(requireString(args, 'channel'));
        // Newest first, as Slack answers.
        const messages = workspace.conversation(channel.id).reverse();
        return this.page(messages, args);
      },
      'conversations.replies': (args) => {
        const channel = this.readableChannel(requireString(args, 'channel'));
        return this.page(workspace.conversation(channel.id, requireString(args, 'ts')), args);
      },
      'chat.postEphemeral': (args) => {
        const channel = this.postableChannel(requireString(args, 'channel'));
        const user = requireString(args, 'user');
        workspace.user(user);
        if (!channel.members.has(user)) throw new SlackApiError('user_not_in_channel');
        const threadTs = optionalString(args, 'thread_ts');
        const message = workspace.post({
          channel: channel.id,
          user: bot,
          threadTs,
          ephemeralFor: user,
          ...messageContent(args),
        });
        return { message_ts: message.ts };
      },
      'chat.update': (args) => {
        const channel = requireString(args, 'channel');
        const ts = requireString(args, 'ts');
        const original = workspace.message(channel, ts);
        if (original.user !== bot || original.ephemeralFor) throw new SlackApiError('cant_update_message');
        const updated = workspace.update(channel, ts, messageContent(args));
        return { channel, ts, text: updated.text, message: this.messageJson(updated) };
      },
      // A link the console itself opens: the message's channel with its thread shown (a reply
      // opens its parent's thread), scrolled to the message, as Slack's permalink does.
      'chat.getPermalink': (args) => {
        const channel = this.readableChannel(requireString(args, 'channel'));
        const message = workspace.message(channel.id, requireString(args, 'message_ts'));
        const query = new URLSearchParams({
          channel: channel.id,
          thread: parentOf(message) ?? message.ts,
          message: message.ts,
        });
        return { channel: channel.id, permalink: `${deps.baseUrl()}/?${query}` };
      },
      'chat.delete': (args) => {
        const channel = requireString(args, 'channel');
        const ts = requireString(args, 'ts');
        if (workspace.message(channel, ts).user !== bot) throw new SlackApiError('cant_delete_message');
        workspace.remove(channel, ts);
        return { channel, ts };
      },
      'conversations.create': (args) => {
        const created = workspace.createChannel(requireString(args, 'name'), {
          isPrivate: flag(args.is_private),
          creator: bot,
        });
        return { channel: channelJson(created) };
      },
      'conversations.invite': (args) => {
        const channel = workspace.channel(requireString(args, 'channel'));
        if (!channel.members.has(bot)) throw new SlackApiError('not_in_channel');
        const users = requireString(args, 'users')
          .split(',')
          .map((id) => id.trim());
        workspace.invite(channel.id, users, bot);
        return { channel: channelJson(channel) };
      },
      'conversations.info': (args) => ({
        channel: channelJson(workspace.channel(requireString(args, 'channel'))),
      }),
      'pins.add': (args) => {
        const channel = workspace.channel(requireString(args, 'channel'));
        if (!channel.members.has(bot)) throw new SlackApiError('not_in_channel');
        const timestamp = optionalString(args, 'timestamp');
        if (!timestamp) throw new SlackApiError('no_item_specified');
        workspace.pin(channel.id, timestamp);
        return {};
      },
      'users.info': (args) => {
        const user = workspace.user(requireString(args, 'user'));
        return {
          user: {
            id: user.id,
            team_id: workspace.team.id,
            name: user.name,
            real_name: user.realName,
            is_bot: user.isBot,
            profile: { real_name: user.realName, display_name: user.name },
          },
        };
      },
      'usergroups.users.list': (args) => {
        const group = workspace.userGroups.get(requireString(args, 'usergroup'));
        if (!group) throw new SlackApiError('no_such_subteam');
        return { users: group.users };
      },
      'files.getUploadURLExternal': (args) => {
        const filename = requireString(args, 'filename');
        const length = Number(args.length);
        if (!Number.isInteger(length) || length < 1) throw new SlackApiError('invalid_arguments');
        const id = workspace.newId('F');
        workspace.files.set(id, { id, name: filename, title: filename });
        return { upload_url: `${deps.baseUrl()}/upload/${id}`, file_id: id };
      },
      'files.completeUploadExternal': (args) => this.completeUpload(args),
      'views.open': (args) => {
        const user = deps.triggers.redeem(requireString(args, 'trigger_id'));
        const view = checkedView(args.view);
        const stored = workspace.openView(user, view);
        return { view: { ...view, id: stored.id, team_id: workspace.team.id } };
      },
      'views.update': (args) => {
        const view = checkedView(args.view);
        const stored = workspace.updateView(requireString(args, 'view_id'), { view, errors: undefined });
        return { view: { ...view, id: stored.id } };
      },
    };
  }

  /** Runs one call; the answer is what Slack would send with HTTP 200. */
  call(method: string, args: ApiArgs, token: string | undefined): Record<string, unknown> {
    try {
      if (!token) throw new SlackApiError('not_authed');
      const socketMode = this.deps.socketMode;
      // apps.connections.open takes the app-level token and nothing else takes it, as in Slack.
      if (method === 'apps.connections.open') {
        if (token === this.deps.botToken) throw new SlackApiError('not_allowed_token_type');
        if (!socketMode || token !== socketMode.appToken) throw new SlackApiError('invalid_auth');
        return { ok: true, url: socketMode.openUrl() };
      }
      if (socketMode && token === socketMode.appToken) throw new SlackApiError('not_allowed_token_type');
      if (token !== this.deps.botToken) throw new SlackApiError('invalid_auth');
      const implementation = this.methods[method];
      if (!implementation) throw new SlackApiError('unknown_method');
      return { ok: true, ...implementation(args) };
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      return {
        ok: false,
        error: err.code,
        ...(err.messages.length > 0 ? { response_metadata: { messages: err.messages } } : {}),
      };
    }
  }

  /** Public channels take posts without joining (chat:write.public); private ones need the bot in them. */
  private postableChannel(id: string) {
    const channel = this.deps.workspace.channel(id);
    if (channel.isPrivate && !channel.members.has(this.deps.workspace.bot.userId))
      throw new SlackApiError('not_in_channel');
    return channel;
  }

  /** Reading a channel's history needs the bot in it (channels:history / groups:history). */
  private readableChannel(id: string) {
    const channel = this.deps.workspace.channel(id);
    if (!channel.members.has(this.deps.workspace.bot.userId)) throw new SlackApiError('not_in_channel');
    return channel;
  }

  /** One page of messages between `oldest` and `latest`, `limit` at a time (cursor: an offset). */
  private page(messages: StoredMessage[], args: ApiArgs): Record<string, unknown> {
    const oldest = Number(optionalString(args, 'oldest') ?? 0);
    const latest = Number(optionalString(args, 'latest') ?? Number.POSITIVE_INFINITY);
    const inRange = messages.filter((message) => Number(message.ts) > oldest && Number(message.ts) < latest);
    const limit = Math.min(Math.max(Number(args.limit ?? 100) || 100, 1), 1000);
    const offset = Number(optionalString(args, 'cursor') ?? 0) || 0;
    const shown = inRange.slice(offset, offset + limit);
    const more = offset + limit < inRange.length;
    const withMetadata = flag(args.include_all_metadata);
    return {
      messages: shown.map((message) => ({
        ...this.messageJson(message),
        ...(withMetadata && message.metadata ? { metadata: message.metadata } : {}),
      })),
      has_more: more,
      ...(more ? { response_metadata: { next_cursor: String(offset + limit) } } : {}),
    };
  }

  private completeUpload(args: ApiArgs): Record<string, unknown> {
    const { workspace } = this.deps;
    const listed = jsonValue(args.files, 'files');
    if (!Array.isArray(listed) || listed.length === 0) throw new SlackApiError('invalid_arguments');
    const fileIds: string[] = [];
    for (const entry of listed as Array<{ id?: string; title?: string }>) {
      const file = entry.id ? workspace.files.get(entry.id) : undefined;
      // Slack refuses to complete an upload whose bytes never arrived.
      if (!file?.content) throw new SlackApiError('file_not_found');
      if (entry.title) file.title = entry.title;
      fileIds.push(file.id);
    }
    const channelId = optionalString(args, 'channel_id');
    if (channelId) {
      const channel = this.postableChannel(channelId);
      workspace.post({
        channel: channel.id,
        user: workspace.bot.userId,
        threadTs: optionalString(args, 'thread_ts'),
        text: optionalString(args, 'initial_comment') ?? '',
        fileIds,
      });
    }
    return {
      files: fileIds.map((id) => ({
        id,
        title: workspace.files.get(id)?.title,
        name: workspace.files.get(id)?.name,
      })),
    };
  }

  private messageJson(message: StoredMessage) {
    return {
      type: 'message',
      user: message.user,
      bot_id: this.deps.workspace.bot.botId,
      ts: message.ts,
      thread_ts: message.threadTs,
      text: message.text,
      blocks: message.blocks,
    };
  }
}

function channelJson(channel: {
  id: string;
  name: string;
  isPrivate: boolean;
  creator: string;
  created: number;
  topic: string;
  members: Set<string>;
}) {
  return {
    id: channel.id,
    name: channel.name,
    is_channel: !channel.isPrivate,
    is_group: channel.isPrivate,
    is_private: channel.isPrivate,
    created: channel.created,
    creator: channel.creator,
    num_members: channel.members.size,
    topic: { value: channel.topic },
  };
}

/** chat.postMessage's `metadata`: event_type and an event_payload object, or invalid_metadata_format. */
function messageMetadata(value: unknown): StoredMessage['metadata'] {
  if (value === undefined || value === '') return undefined;
  let parsed: unknown;
  try {
    parsed = typeof value === 'string' ? JSON.parse(value) : value;
  } catch {
    throw new SlackApiError('invalid_metadata_format');
  }
  const metadata = parsed as { event_type?: unknown; event_payload?: unknown };
  if (
    typeof metadata?.event_type !== 'string' ||
    metadata.event_type === '' ||
    !metadata.event_payload ||
    typeof metadata.event_payload !== 'object' ||
    Array.isArray(metadata.event_payload)
  )
    throw new SlackApiError('invalid_metadata_format');
  return {
    event_type: metadata.event_type,
    event_payload: metadata.event_payload as Record<string, unknown>,
  };
}

/** Text and blocks of a message, checked as Slack checks them. */
export function messageContent(args: ApiArgs): { text: string; blocks?: unknown[] } {
  const blocks = parseJsonArgument(args.blocks);
  const refusal = checkMessage({ text: args.text, blocks });
  if (refusal) throw new SlackApiError(refusal.error, refusal.messages);
  return {
    text: typeof args.text === 'string' ? args.text : '',
    blocks: Array.isArray(blocks) && blocks.length > 0 ? withSlackIds(blocks) : undefined,
  };
}

/**
 * Slack gives every block without a block_id, and every interactive element without an
 * action_id, a generated one; clicks then carry those ids, so the console does the same.
 */
function withSlackIds(blocks: unknown[]): unknown[] {
  return blocks.map((block, index) => {
    const withId: Record<string, unknown> = {
      block_id: generatedId(index),
      ...(block as Record<string, unknown>),
    };
    if (Array.isArray(withId.elements)) withId.elements = withId.elements.map(withActionId);
    if (withId.accessory) withId.accessory = withActionId(withId.accessory, 0);
    if (withId.element) withId.element = withActionId(withId.element, 0);
    return withId;
  });
}

const INTERACTIVE = new Set([
  'button',
  'static_select',
  'overflow',
  'datepicker',
  'checkboxes',
  'radio_buttons',
  'plain_text_input',
]);

function withActionId(element: unknown, index: number): unknown {
  const record = element as Record<string, unknown>;
  return INTERACTIVE.has(String(record.type)) && !record.action_id
    ? { ...record, action_id: generatedId(index) }
    : record;
}

function generatedId(index: number): string {
  return `${Math.random().toString(36).slice(2, 7)}${index}`;
}

/** A view as views.open and views.update take it: checked, with Slack's generated ids. */
export function checkedView(value: unknown): Record<string, unknown> {
  const view = jsonObject(value, 'view');
  const refusal = checkView(view);
  if (refusal) throw new SlackApiError(refusal.error, refusal.messages);
  return Array.isArray(view.blocks) ? { ...view, blocks: withSlackIds(view.blocks) } : view;
}

function requireString(args: ApiArgs, name: string): string {
  const value = args[name];
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  throw new SlackApiError('invalid_arguments', [`[ERROR] missing required field: ${name}`]);
}

function optionalString(args: ApiArgs, name: string): string | undefined {
  const value = args[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A boolean argument as Slack reads it: true, or the form-encoded 'true' or '1'. */
export function flag(value: unknown): boolean {
  return value === true || value === 'true' || value === '1';
}

function jsonValue(value: unknown, name: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new SlackApiError('invalid_arguments', [`[ERROR] ${name} is not valid JSON`]);
  }
}

function jsonObject(value: unknown, name: string): Record<string, unknown> {
  const parsed = jsonValue(value, name);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new SlackApiError('invalid_arguments', [`[ERROR] missing required field: ${name}`]);
  return parsed as Record<string, unknown>;
}
