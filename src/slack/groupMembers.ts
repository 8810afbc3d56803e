import type { WebClient } from '@slack/web-api';
import type { GroupMembers } from '../approvals/policy.js';

const CACHE_MS = 5 * 60_000;

/**
 * Members of a Slack user group, for policies that name groups (S…). Cached for five
 * minutes: a click should not wait on Slack, and membership rarely changes mid-incident.
 * If Slack cannot answer, the group counts as empty, so a policy fails closed.
 */
export function slackGroupMembers(client: WebClient): GroupMembers {
  const cache = new Map<string, { at: number; members: string[] }>();
  return async (groupId) => {
    const cached = cache.get(groupId);
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.members;
    try {
      const answer = await client.usergroups.users.list({ usergroup: groupId });
      const members = answer.users ?? [];
      cache.set(groupId, { at: Date.now(), members });
      return members;
    } catch {
      return [];
    }
  };
}
