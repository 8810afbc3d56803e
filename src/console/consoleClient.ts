import type { ConsoleReply, ConsoleState } from './protocol.js';

/** What a user sees in the console right now (the page's own read). */
export async function consoleState(consoleUrl: string, user: string): Promise<ConsoleState> {
  const response = await fetch(`${consoleUrl}/console/state?user=${encodeURIComponent(user)}`);
  return (await response.json()) as ConsoleState;
}

/** POSTs to one of the page's endpoints, as the page does. */
export async function consolePost(
  consoleUrl: string,
  path: 'send' | 'action' | 'submit' | 'close',
  body: Record<string, unknown>,
): Promise<ConsoleReply> {
  const response = await fetch(`${consoleUrl}/console/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await response.json()) as ConsoleReply;
}
