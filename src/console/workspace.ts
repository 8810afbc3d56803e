import { EventEmitter } from 'node:events';
import type { ConsoleState, ConsoleUser, MessageCore } from './protocol.js';

/** A Web API refusal: Slack's error code, and the response_metadata messages when it gives some. */
export class SlackApiError extends Error {
  /** `message` is the code, then Slack's detail messages: what a person reads. */
  constructor(
    readonly code: string,
    readonly messages: string[] = [],
  ) {
    super(messages.length > 0 ? `${code}: ${messages.join('; ')}` : code);
  }
}

/** The parent's ts when the message is a thread reply (a parent carries its own ts there). */
export function parentOf(message: { ts: string; threadTs?: string }): string | undefined {
  return message.threadTs && message.threadTs !== message.ts ? message.threadTs : undefined;
}

/** A message as the workspace keeps it: files by id, and whom an ephemeral one is for. */
/** Renderings of one message kept for clicks in flight (see StoredMessage.earlierBlocks). */
const EARLIER_BLOCKS_KEPT = 5;

export interface StoredMessage extends MessageCore {
  fileIds?: string[];
  /** Message metadata as posted (event_type and event_payload); only the API returns it. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** Only this user sees it. */
  ephemeralFor?: string;
  /**
   * The blocks this message showed before its last updates, newest first, with when each was
   * replaced: a click made on the screen a person had a moment ago still arrives, as in Slack
   * (a button pressed before the client re-rendered is delivered).
   */
  earlierBlocks?: Array<{ blocks: unknown[] | undefined; replacedAt: number }>;
}

export interface StoredChannel {
  id: string;
  name: string;
  isPrivate: boolean;
  topic: string;
  creator: string;
  created: number;
  members: Set<string>;
  pins: string[];
}

export interface StoredFile {
  id: string;
  name: string;
  title: string;
  content?: Buffer;
}

export interface StoredView {
  id: string;
  user: string;
  view: Record<string, unknown>;
  errors?: Record<string, string>;
}

const MAX_CHANNEL_NAME = 80;
/** Slack's own user, which tells people when a command failed. */
export const SLACKBOT = 'USLACKBOT';

/**
 * One Slack workspace, in memory: users, channels, messages and threads, pins, files, user
 * groups and open modals. It enforces what Slack enforces about them (names, membership,
 * what exists) and says so with Slack's error codes; every change bumps `version` and
 * emits `change`, which the page follows.
 */
export class Workspace extends EventEmitter<{ change: [number] }> {
  readonly team = { id: 'T0CONSOLE', name: 'Acme (local console)', domain: 'acme-console' };
  readonly bot = {
    userId: 'U0RUNBOOKBOT',
    botId: 'B0RUNBOOKBOT',
    appId: 'A0RUNBOOKBOT',
    name: 'runbook-bot',
  };
  readonly users = new Map<string, ConsoleUser>();
  readonly channels = new Map<string, StoredChannel>();
  readonly files = new Map<string, StoredFile>();
  readonly userGroups = new Map<string, { handle: string; users: string[] }>();
  private readonly messages = new Map<string, StoredMessage[]>();
  private readonly views = new Map<string, StoredView[]>();
  private lastTs = 0;
  private counter = 0;
  version = 0;
  botError?: string;

  constructor() {
    super();
    this.addUser({ id: this.bot.userId, name: this.bot.name, realName: 'runbook-bot', isBot: true });
    this.addUser({ id: SLACKBOT, name: 'slackbot', realName: 'Slackbot', isBot: true });
  }

  addUser(user: ConsoleUser): void {
    this.users.set(user.id, user);
  }

  /** Message timestamps are unique and increasing, as Slack's are: seconds with six digits. */
  nextTs(): string {
    const micros = Math.max(Date.now() * 1000, this.lastTs + 1);
    this.lastTs = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  newId(prefix: string): string {
    this.counter += 1;
    return `${prefix}0${this.counter.toString(36).toUpperCase().padStart(8, '0')}`;
  }

  changed(): void {
    this.version += 1;
    this.emit('change', this.version);
  }

  user(id: string): ConsoleUser {
    const user = this.users.get(id);
    if (!user) throw new SlackApiError('user_not_found');
    return user;
  }

  channel(id: string): StoredChannel {
    const channel = this.channels.get(id);
    if (!channel) throw new SlackApiError('channel_not_found');
    return channel;
  }

  createChannel(name: string, options: { isPrivate: boolean; creator: string; id?: string; topic?: string }) {
    if (!name) throw new SlackApiError('invalid_name_required');
    if (name.length > MAX_CHANNEL_NAME) throw new SlackApiError('invalid_name_maxlength');
    if (!/^[a-z0-9_-]+$/.test(name)) throw new SlackApiError('invalid_name_specials');
    if ([...this.channels.values()].some((channel) => channel.name === name))
      throw new SlackApiError('name_taken');
    const channel: StoredChannel = {
      id: options.id ?? this.newId('C'),
      name,
      isPrivate: options.isPrivate,
      topic: options.topic ?? '',
      creator: options.creator,
      created: Math.floor(Date.now() / 1000),
      members: new Set([options.creator]),
      pins: [],
    };
    this.channels.set(channel.id, channel);
    this.messages.set(channel.id, []);
    this.changed();
    return channel;
  }

  invite(channelId: string, userIds: string[], inviter: string): void {
    const channel = this.channel(channelId);
    for (const id of userIds) {
      if (id === inviter) throw new SlackApiError('cant_invite_self');
      this.user(id);
      if (channel.members.has(id)) throw new SlackApiError('already_in_channel');
    }
    for (const id of userIds) channel.members.add(id);
    this.changed();
  }

  /** Where a reply goes: Slack threads on the parent even when given a reply's ts. */
  threadParent(channelId: string, threadTs: string): StoredMessage {
    const parent = this.findMessage(channelId, threadTs);
    if (!parent || parent.ephemeralFor) throw new SlackApiError('thread_not_found');
    const grandparent = parentOf(parent);
    return grandparent ? (this.findMessage(channelId, grandparent) ?? parent) : parent;
  }

  post(message: Omit<StoredMessage, 'ts'>): StoredMessage {
    this.channel(message.channel);
    const stored: StoredMessage = { ...message, ts: this.nextTs() };
    if (message.threadTs) stored.threadTs = this.threadParent(message.channel, message.threadTs).ts;
    this.messages.get(message.channel)?.push(stored);
    this.changed();
    return stored;
  }

  /**
   * A channel's messages everyone sees, oldest first: its top-level messages, or with
   * `threadTs` that thread's parent and replies (what conversations.history and
   * conversations.replies read).
   */
  conversation(channelId: string, threadTs?: string): StoredMessage[] {
    this.channel(channelId);
    const visible = (this.messages.get(channelId) ?? []).filter((message) => !message.ephemeralFor);
    if (!threadTs) return visible.filter((message) => !parentOf(message));
    const parent = this.threadParent(channelId, threadTs);
    return visible.filter((message) => message.ts === parent.ts || parentOf(message) === parent.ts);
  }

  findMessage(channelId: string, ts: string): StoredMessage | undefined {
    return this.messages.get(channelId)?.find((message) => message.ts === ts);
  }

  /** The message at `ts`, or message_not_found. */
  message(channelId: string, ts: string): StoredMessage {
    this.channel(channelId);
    const message = this.findMessage(channelId, ts);
    if (!message) throw new SlackApiError('message_not_found');
    return message;
  }

  update(channelId: string, ts: string, change: { text: string; blocks?: unknown[] }): StoredMessage {
    const message = this.message(channelId, ts);
    message.earlierBlocks = [
      { blocks: message.blocks, replacedAt: Date.now() },
      ...(message.earlierBlocks ?? []),
    ].slice(0, EARLIER_BLOCKS_KEPT);
    message.text = change.text;
    message.blocks = change.blocks;
    message.edited = true;
    this.changed();
    return message;
  }

  remove(channelId: string, ts: string): void {
    const list = this.messages.get(channelId) ?? [];
    const index = list.findIndex((message) => message.ts === ts);
    if (index < 0) throw new SlackApiError('message_not_found');
    list.splice(index, 1);
    this.changed();
  }

  pin(channelId: string, ts: string): void {
    const channel = this.channel(channelId);
    const message = this.message(channelId, ts);
    if (message.ephemeralFor) throw new SlackApiError('message_not_found');
    if (channel.pins.includes(ts)) throw new SlackApiError('already_pinned');
    channel.pins.push(ts);
    this.changed();
  }

  openView(user: string, view: Record<string, unknown>): StoredView {
    const stored: StoredView = { id: this.newId('V'), user, view };
    this.views.set(user, [...(this.views.get(user) ?? []), stored]);
    this.changed();
    return stored;
  }

  view(viewId: string): StoredView {
    for (const stack of this.views.values()) {
      const found = stack.find((view) => view.id === viewId);
      if (found) return found;
    }
    throw new SlackApiError('not_found');
  }

  updateView(viewId: string, change: Partial<Pick<StoredView, 'view' | 'errors'>>): StoredView {
    const stored = this.view(viewId);
    Object.assign(stored, change);
    this.changed();
    return stored;
  }

  /** Closes the view and those pushed above it; `all` closes the user's whole stack. */
  closeView(viewId: string, options: { all?: boolean } = {}): void {
    const stored = this.view(viewId);
    const stack = this.views.get(stored.user) ?? [];
    this.views.set(stored.user, options.all ? [] : stack.slice(0, stack.indexOf(stored)));
    this.changed();
  }

  reportBotError(error: string | undefined): void {
    if (this.botError === error) return;
    this.botError = error;
    this.changed();
  }

  /** What `user` sees: every channel, every message but other people's ephemerals. */
  snapshot(user: string, botUrl: string): ConsoleState {
    const messages = [...this.messages.values()]
      .flat()
      .filter((message) => !message.ephemeralFor || message.ephemeralFor === user)
      .sort((a, b) => Number(a.ts) - Number(b.ts));
    const replies = new Map<string, number>();
    for (const message of messages) {
      if (parentOf(message) && !message.ephemeralFor) {
        const key = `${message.channel}/${message.threadTs}`;
        replies.set(key, (replies.get(key) ?? 0) + 1);
      }
    }
    return {
      version: this.version,
      team: { id: this.team.id, name: this.team.name },
      botUserId: this.bot.userId,
      users: [...this.users.values()],
      channels: [...this.channels.values()].map((channel) => ({
        id: channel.id,
        name: channel.name,
        isPrivate: channel.isPrivate,
        topic: channel.topic,
        members: [...channel.members],
        pins: [...channel.pins],
      })),
      messages: messages.map((message) => {
        const replyCount = replies.get(`${message.channel}/${message.ts}`);
        return {
          channel: message.channel,
          ts: message.ts,
          threadTs: replyCount ? message.ts : message.threadTs,
          user: message.user,
          text: message.text,
          blocks: message.blocks,
          files: message.fileIds?.map((id) => this.fileSummary(id)),
          ephemeral: message.ephemeralFor ? true : undefined,
          replyCount,
          edited: message.edited,
        };
      }),
      views: (this.views.get(user) ?? []).map(({ id, view, errors }) => ({ id, view, errors })),
      bot: { url: botUrl, lastError: this.botError },
    };
  }

  private fileSummary(id: string) {
    const file = this.files.get(id);
    const name = file?.name ?? id;
    return {
      id,
      name,
      title: file?.title ?? name,
      url: `/files/${id}/${encodeURIComponent(name)}`,
      size: file?.content?.length ?? 0,
    };
  }
}

/** The people, channels and user group a new console starts with. */
export function seedWorkspace(workspace: Workspace): Workspace {
  const people: ConsoleUser[] = [
    { id: 'U0ALICE', name: 'alice', realName: 'Alice Ortiz (on-call)', isBot: false },
    { id: 'U0BOB', name: 'bob', realName: 'Bob Chen (tech lead)', isBot: false },
    { id: 'U0CAROL', name: 'carol', realName: 'Carol Diaz (DBA)', isBot: false },
  ];
  for (const person of people) workspace.addUser(person);
  const everyone = [workspace.bot.userId, ...people.map((person) => person.id)];
  for (const [id, name, topic] of [
    ['C0INCIDENTS', 'incidents', 'Where production trouble is reported. Try /runbook health'],
    ['C0DATABASE', 'database', 'Postgres operations'],
  ] as const) {
    const channel = workspace.createChannel(name, { isPrivate: false, creator: people[0]!.id, id, topic });
    for (const member of everyone) channel.members.add(member);
  }
  workspace.userGroups.set('S0ONCALL', { handle: 'oncall', users: ['U0ALICE', 'U0BOB'] });
  return workspace;
}
