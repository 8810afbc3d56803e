import { errorText } from '../redact.js';
import { signedHeaders } from '../slack/signature.js';
import { clip } from '../text.js';
import type { ResponseAnswer, ResponseUrls } from './responseUrls.js';
import { ACK_TIMEOUT_MS, type EnvelopeType, type SocketModeHub } from './socketMode.js';
import type { TriggerIds } from './triggerIds.js';
import { checkedView, messageContent } from './webApi.js';
import { parentOf, SLACKBOT, SlackApiError, type StoredMessage, type Workspace } from './workspace.js';

/** Slack still sends the deprecated verification token; bots check the signature instead. */
const VERIFICATION_TOKEN = 'console-verification-token';

export interface DeliveryDeps {
  workspace: Workspace;
  triggers: TriggerIds;
  responses: ResponseUrls;
  signingSecret: string;
  /** The bot's request URL (…/slack/events); known once the bot listens. */
  botUrl: () => string;
  /** Slash commands the app registered (manifest.yml). */
  commands: string[];
  /** The bot's Socket Mode connections, preferred over its request URL when it has one. */
  socket?: SocketModeHub;
}

/**
 * Delivers what people do in the console to the bot exactly as Slack does: signed,
 * form-encoded slash commands and `payload` JSON for clicks and modal submissions, each
 * with a response_url and a trigger_id, and the bot's synchronous answer applied as Slack
 * applies it.
 */
export class BotDelivery {
  constructor(private readonly deps: DeliveryDeps) {}

  /** A line typed in the composer: a slash command for the bot, or a plain message. */
  async send(user: string, channelId: string, text: string, threadTs?: string): Promise<void> {
    const { workspace } = this.deps;
    const channel = workspace.channel(channelId);
    if (!channel.members.has(user)) throw new SlackApiError('not_in_channel');
    const trimmed = text.trim();
    if (!trimmed) return;
    if (!trimmed.startsWith('/')) {
      workspace.post({ channel: channelId, user, text, threadTs });
      return;
    }
    const command = trimmed.split(/\s+/, 1)[0] ?? '';
    if (!this.deps.commands.includes(command)) {
      this.slackbotSays(
        channelId,
        user,
        `\`${command}\` is not a valid command. This app registered ${this.deps.commands.map((name) => `\`${name}\``).join(' and ')}.`,
        threadTs,
      );
      return;
    }
    const form = {
      token: VERIFICATION_TOKEN,
      team_id: workspace.team.id,
      team_domain: workspace.team.domain,
      channel_id: channelId,
      channel_name: channel.name,
      user_id: user,
      user_name: workspace.user(user).name,
      command,
      // Slack sends the text after the command as typed (trimmed), spaces inside kept.
      text: trimmed.slice(command.length).trim(),
      api_app_id: this.deps.workspace.bot.appId,
      is_enterprise_install: 'false',
      response_url: this.deps.responses.issue({ channel: channelId, user, threadTs }),
      trigger_id: this.deps.triggers.issue(user),
    };
    const answer = await this.post('slash_commands', form);
    if (!answer) {
      this.slackbotSays(channelId, user, `${command} failed with the error "operation_timeout"`, threadTs);
      return;
    }
    if (answer.status !== 200) {
      this.slackbotSays(channelId, user, `${command} failed with the error "dispatch_failed"`, threadTs);
      return;
    }
    const reply = parseJson(answer.body) ?? (answer.body ? { text: answer.body } : undefined);
    if (!reply?.text && !reply?.blocks) return;
    let content: ReturnType<typeof messageContent>;
    try {
      // An answer in the acknowledgement is checked as any other message the bot sends.
      content = messageContent(reply);
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      workspace.reportBotError(`The bot's answer to ${command} was refused: ${err.message}`);
      this.slackbotSays(channelId, user, `${command} failed with the error "${err.code}"`, threadTs);
      return;
    }
    const inChannel = reply.response_type === 'in_channel';
    // An in_channel answer shows the command that asked for it, as Slack does.
    if (inChannel) workspace.post({ channel: channelId, user, text: trimmed, threadTs });
    workspace.post({
      channel: channelId,
      user: workspace.bot.userId,
      ...content,
      ephemeralFor: inChannel ? undefined : user,
      threadTs,
    });
  }

  /** A button click, delivered as block_actions. */
  async click(action: {
    user: string;
    channel: string;
    messageTs: string;
    blockId: string;
    actionId: string;
  }): Promise<void> {
    const { workspace } = this.deps;
    const message = workspace.message(action.channel, action.messageTs);
    if (message.ephemeralFor && message.ephemeralFor !== action.user)
      throw new SlackApiError('message_not_found');
    const button = findButton(message, action.blockId, action.actionId);
    const channel = workspace.channel(action.channel);
    const person = workspace.user(action.user);
    const threadTs = parentOf(message);
    const payload = {
      type: 'block_actions',
      user: { id: person.id, username: person.name, name: person.name, team_id: workspace.team.id },
      api_app_id: this.deps.workspace.bot.appId,
      token: VERIFICATION_TOKEN,
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: channel.id,
        is_ephemeral: Boolean(message.ephemeralFor),
        ...(threadTs ? { thread_ts: threadTs } : {}),
      },
      trigger_id: this.deps.triggers.issue(action.user),
      team: { id: workspace.team.id, domain: workspace.team.domain },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: channel.id, name: channel.name },
      // Slack leaves the message out of the payload for ephemeral messages.
      ...(message.ephemeralFor
        ? {}
        : {
            message: {
              type: 'message',
              user: message.user,
              ts: message.ts,
              thread_ts: message.threadTs,
              text: message.text,
              blocks: message.blocks,
            },
          }),
      state: { values: {} },
      response_url: this.deps.responses.issue({
        channel: channel.id,
        user: action.user,
        messageTs: message.ts,
        threadTs,
      }),
      actions: [{ ...button, block_id: action.blockId, action_ts: workspace.nextTs() }],
    };
    const answer = await this.post('interactive', payload);
    if (!answer)
      throw new SlackApiError('operation_timeout', ['The bot did not answer the click within 3 seconds.']);
    if (answer.status !== 200)
      throw new SlackApiError('dispatch_failed', [`The bot answered HTTP ${answer.status}.`]);
  }

  /**
   * A modal's submit button, delivered as view_submission. Returns the bot's field errors
   * (the modal stays open with them), or undefined when the modal closed.
   */
  async submit(user: string, viewId: string, values: Record<string, Record<string, string>>) {
    const { workspace } = this.deps;
    const stored = workspace.view(viewId);
    if (stored.user !== user) throw new SlackApiError('not_found');
    const person = workspace.user(user);
    const view = stored.view;
    const payload = {
      type: 'view_submission',
      team: { id: workspace.team.id, domain: workspace.team.domain },
      user: { id: person.id, username: person.name, name: person.name, team_id: workspace.team.id },
      api_app_id: this.deps.workspace.bot.appId,
      token: VERIFICATION_TOKEN,
      trigger_id: this.deps.triggers.issue(user),
      view: {
        ...view,
        id: stored.id,
        team_id: workspace.team.id,
        state: { values: stateValues(view, values) },
        hash: `${workspace.version}.${stored.id}`,
        root_view_id: stored.id,
        app_id: this.deps.workspace.bot.appId,
        bot_id: workspace.bot.botId,
      },
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
    const answer = await this.post('interactive', payload);
    if (!answer) throw new SlackApiError('operation_timeout', ['The bot did not answer within 3 seconds.']);
    if (answer.status !== 200)
      throw new SlackApiError('dispatch_failed', [`The bot answered HTTP ${answer.status}.`]);
    const reply = parseJson(answer.body);
    if (reply?.response_action === 'errors' && reply.errors && typeof reply.errors === 'object') {
      const errors = reply.errors as Record<string, string>;
      workspace.updateView(viewId, { errors });
      return errors;
    }
    // A view in the answer is checked as views.update / views.push would check it.
    if (reply?.response_action === 'update' && reply.view)
      workspace.updateView(viewId, { view: checkedView(reply.view), errors: undefined });
    else if (reply?.response_action === 'push' && reply.view)
      workspace.openView(user, checkedView(reply.view));
    else workspace.closeView(viewId, { all: reply?.response_action === 'clear' });
    return undefined;
  }

  /**
   * To the bot as Slack would send it: over its Socket Mode connection when it has one,
   * else a signed POST to its request URL. Undefined when it did not answer within Slack's
   * three seconds.
   */
  private async post(
    type: EnvelopeType,
    payload: Record<string, unknown>,
  ): Promise<ResponseAnswer | undefined> {
    const { workspace, socket } = this.deps;
    if (socket?.connected()) {
      const ack = await socket.deliver(type, payload);
      workspace.reportBotError(
        ack === undefined ? 'The bot did not acknowledge within 3 seconds.' : undefined,
      );
      if (ack === undefined) return undefined;
      // An ack's payload is what the HTTP receiver would have answered in its body.
      const empty = typeof ack === 'object' && ack !== null && Object.keys(ack).length === 0;
      return { status: 200, body: empty ? '' : JSON.stringify(ack) };
    }
    if (!this.deps.botUrl()) {
      workspace.reportBotError(
        'The bot is not connected: start it with SLACK_APP_TOKEN (Socket Mode) or tell the console its request URL.',
      );
      return { status: 502, body: '' };
    }
    // Over HTTP a slash command is the form itself; an interaction is JSON in a `payload` field.
    const form =
      type === 'slash_commands'
        ? new URLSearchParams(payload as Record<string, string>)
        : new URLSearchParams({ payload: JSON.stringify(payload) });
    return this.postHttp(form.toString());
  }

  private async postHttp(body: string): Promise<ResponseAnswer | undefined> {
    const { workspace } = this.deps;
    try {
      const response = await fetch(this.deps.botUrl(), {
        method: 'POST',
        headers: signedHeaders(this.deps.signingSecret, body),
        body,
        signal: AbortSignal.timeout(ACK_TIMEOUT_MS),
      });
      const text = await response.text();
      workspace.reportBotError(
        response.status === 200 ? undefined : `The bot answered HTTP ${response.status}: ${clip(text, 200)}`,
      );
      return { status: response.status, body: text };
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      workspace.reportBotError(
        timedOut
          ? 'The bot did not answer within 3 seconds.'
          : `The bot is unreachable at ${this.deps.botUrl()}: ${errorText(err)}`,
      );
      if (timedOut) return undefined;
      return { status: 502, body: '' };
    }
  }

  private slackbotSays(channel: string, user: string, text: string, threadTs?: string): void {
    this.deps.workspace.post({ channel, user: SLACKBOT, text, ephemeralFor: user, threadTs });
  }
}

function parseJson(body: string): Record<string, unknown> | undefined {
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(body);
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

interface ButtonElement {
  type: string;
  action_id?: string;
  text?: unknown;
  value?: string;
  style?: string;
}

/** The clicked element, found in the message as Slack finds it: by block_id and action_id. */
/** How long after an update a click on the earlier rendering still arrives (a client re-rendering). */
const STALE_CLICK_MS = 5000;

/**
 * The clicked element, in the message as it is or as it was shown moments ago: Slack delivers
 * a click made before the person's client re-rendered an update, so the bot must cope with it.
 */
function findButton(message: StoredMessage, blockId: string, actionId: string): ButtonElement {
  const now = Date.now();
  const renderings = [
    message.blocks,
    ...(message.earlierBlocks ?? [])
      .filter((earlier) => now - earlier.replacedAt < STALE_CLICK_MS)
      .map((earlier) => earlier.blocks),
  ];
  for (const blocks of renderings) {
    const element = buttonIn(blocks, blockId, actionId);
    if (element) return element;
  }
  throw new SlackApiError('action_not_found', [
    `No element ${actionId} in block ${blockId} of that message.`,
  ]);
}

function buttonIn(
  blocks: unknown[] | undefined,
  blockId: string,
  actionId: string,
): ButtonElement | undefined {
  for (const block of (blocks ?? []) as Array<Record<string, unknown>>) {
    if (block.block_id !== blockId) continue;
    const elements = [
      ...(Array.isArray(block.elements) ? block.elements : []),
      ...(block.accessory ? [block.accessory] : []),
    ] as ButtonElement[];
    const element = elements.find((candidate) => candidate.action_id === actionId);
    if (element) return element;
  }
  return undefined;
}

/** view.state.values as Slack builds it from the modal's input blocks. */
function stateValues(view: Record<string, unknown>, typed: Record<string, Record<string, string>>) {
  const values: Record<string, Record<string, unknown>> = {};
  for (const block of (view.blocks ?? []) as Array<Record<string, unknown>>) {
    if (block.type !== 'input' || typeof block.block_id !== 'string') continue;
    const element = block.element as
      | { type?: string; action_id?: string; options?: Array<{ text: unknown; value: string }> }
      | undefined;
    if (!element?.action_id) continue;
    const given = typed[block.block_id]?.[element.action_id];
    const value = given === undefined || given === '' ? null : given;
    // A menu answers with the option chosen, as Slack sends it; a text input with its value.
    values[block.block_id] = {
      [element.action_id]:
        element.type === 'static_select'
          ? {
              type: element.type,
              selected_option: element.options?.find((option) => option.value === value) ?? null,
            }
          : { type: element.type, value },
    };
  }
  return values;
}
