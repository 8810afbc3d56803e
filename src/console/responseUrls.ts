import { randomBytes } from 'node:crypto';
import { flag, messageContent } from './webApi.js';
import { parentOf, SlackApiError, type Workspace } from './workspace.js';

/** Slack's limits on a response_url: five uses within thirty minutes. */
const MAX_USES = 5;
const LIFETIME_MS = 30 * 60_000;

interface Origin {
  channel: string;
  user: string;
  /** The message whose button was clicked; absent for slash commands. */
  messageTs?: string;
  threadTs?: string;
  uses: number;
  expiresAt: number;
}

/** An HTTP answer: a response URL's to the bot, or the bot's to a delivery. */
export interface ResponseAnswer {
  status: number;
  body: string;
}

/**
 * response_url: where the bot answers a slash command or a click. Ephemeral by default,
 * in_channel on request; replace_original and delete_original act on the clicked message.
 */
export class ResponseUrls {
  private readonly origins = new Map<string, Origin>();

  constructor(
    private readonly workspace: Workspace,
    private readonly baseUrl: () => string,
  ) {}

  issue(origin: Omit<Origin, 'uses' | 'expiresAt'>): string {
    // Expired ones can never be used again: forgotten, so the map holds only the live ones.
    const now = Date.now();
    for (const [token, known] of this.origins) if (now > known.expiresAt) this.origins.delete(token);
    const token = randomBytes(12).toString('hex');
    this.origins.set(token, { ...origin, uses: 0, expiresAt: now + LIFETIME_MS });
    return `${this.baseUrl()}/response/${token}`;
  }

  /** Handles a POST to a response_url; Slack answers 404 with a word when the URL is spent. */
  respond(token: string, payload: Record<string, unknown>): ResponseAnswer {
    const origin = this.origins.get(token);
    if (!origin || Date.now() > origin.expiresAt) return { status: 404, body: 'expired_url' };
    if (origin.uses >= MAX_USES) return { status: 404, body: 'used_url' };
    origin.uses += 1;
    try {
      this.apply(origin, payload);
      return { status: 200, body: 'ok' };
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      return { status: 400, body: err.message };
    }
  }

  private apply(origin: Origin, payload: Record<string, unknown>): void {
    const { workspace } = this;
    const original = origin.messageTs ? workspace.findMessage(origin.channel, origin.messageTs) : undefined;
    if (flag(payload.delete_original)) {
      if (original) workspace.remove(origin.channel, original.ts);
      return;
    }
    const content = messageContent(payload);
    if (flag(payload.replace_original) && original) {
      // A replaced ephemeral stays ephemeral; a replaced channel message is edited in place.
      workspace.update(origin.channel, original.ts, content);
      return;
    }
    const threadTs =
      (typeof payload.thread_ts === 'string' ? payload.thread_ts : undefined) ??
      origin.threadTs ??
      (original ? parentOf(original) : undefined);
    workspace.post({
      channel: origin.channel,
      user: workspace.bot.userId,
      threadTs,
      ephemeralFor: payload.response_type === 'in_channel' ? undefined : origin.user,
      ...content,
    });
  }
}
