import type { WebClient } from '@slack/web-api';

/**
 * Display names of Slack users (users.info), for text that is read outside Slack, such as a
 * report draft. A user Slack cannot describe is left out: the caller shows the id instead.
 */
export async function slackDisplayNames(client: WebClient, ids: string[]): Promise<Record<string, string>> {
  const named = await Promise.all(
    ids.map(async (id) => {
      try {
        const { user } = await client.users.info({ user: id });
        const name = user?.profile?.display_name || user?.name || user?.real_name;
        return name ? ([id, name] as const) : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return Object.fromEntries(named.filter((entry) => entry !== undefined));
}
