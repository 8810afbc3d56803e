import type { AccessPolicy } from './deps.js';

/** Why this person may not use the bot here, or undefined when they may. */
export function refuse(access: AccessPolicy, user: string, channel: string | undefined): string | undefined {
  if (access.users && access.users.length > 0 && !access.users.includes(user)) {
    return 'You are not on the list of people allowed to run runbook-bot here. Ask an admin to add you to ALLOWED_USERS.';
  }
  if (channel && access.channels && access.channels.length > 0 && !access.channels.includes(channel)) {
    return 'runbook-bot is not enabled in this channel. Use it in one listed in ALLOWED_CHANNELS.';
  }
  return undefined;
}

/** The answer when the state database or the job queue failed under a request. */
export const UNAVAILABLE =
  'That did not go through: runbook-bot could not reach its state database or job queue. Try again in a minute.';

export function safeJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
