import { randomBytes } from 'node:crypto';
import { SlackApiError } from './workspace.js';

/** Slack's trigger_id lives three seconds and opens one modal. */
const TRIGGER_LIFETIME_MS = 3000;

/**
 * The trigger ids handed out with each interaction, redeemed by views.open. A bot that
 * opens its modal too late, or twice, gets the error Slack would give it.
 */
export class TriggerIds {
  private readonly issued = new Map<string, { user: string; expiresAt: number; used: boolean }>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(user: string): string {
    const id = `${Date.now()}.${randomBytes(6).toString('hex')}`;
    this.issued.set(id, { user, expiresAt: this.now() + TRIGGER_LIFETIME_MS, used: false });
    this.forgetOld();
    return id;
  }

  /** The user the trigger belongs to, once. */
  redeem(id: string): string {
    const trigger = this.issued.get(id);
    if (!trigger) throw new SlackApiError('invalid_trigger_id');
    if (trigger.used) throw new SlackApiError('trigger_exchanged');
    if (this.now() > trigger.expiresAt) throw new SlackApiError('expired_trigger_id');
    trigger.used = true;
    return trigger.user;
  }

  private forgetOld(): void {
    const horizon = this.now() - 60_000;
    for (const [id, trigger] of this.issued) if (trigger.expiresAt < horizon) this.issued.delete(id);
  }
}
