import type { Block, KnownBlock, WebClient } from '@slack/web-api';
import type { Logger } from '../../logger.js';
import {
  type Queryable,
  recordPostAttempts,
  recordPostedTs,
  recordPostedTsMany,
} from '../../store/postAttempts.js';

/**
 * Posting exactly once when the record of a post can fail after Slack accepted it.
 *
 * Each post path records the message's ts in its own row after Slack answers (a run's
 * posted_ts, a step's, a card's…), and a retry posts whatever has no ts. When that record
 * fails (the state database lost its sessions) or the answer never came (a timeout), the
 * retry cannot tell "not posted" from "posted, not recorded". So every post goes through
 * here: an attempt row is written before the message is sent, the message carries its key
 * in Slack message metadata, and a retry that finds an earlier attempt without a recorded
 * ts looks the key up in the channel's recent history (the thread's, for a reply) before it
 * posts again. Found: its ts is answered and nothing is posted.
 *
 * A duplicate remains possible only when that history cannot be read (see docs/operations.md, "Posted
 * once"): the bot is not a member of the channel (it posted through chat:write.public), the
 * conversation is a DM, the history scopes are missing, or the first message is further back
 * than the lookup reads. The attempt row cannot be the gap: it is committed before the
 * message is sent, so a failure to write it means nothing was sent.
 */

export const POST_EVENT_TYPE = 'runbook_bot_post';

/** How far back before the first attempt to look: Slack's clock and the database's differ. */
const CLOCK_MARGIN_S = 300;
/** Messages read per page, and pages at most: a busy channel's last ~1000 messages. */
const PAGE = 200;
const MAX_PAGES = 5;

export interface SlackPost {
  /** What this message is, unique among everything the bot posts: `health-report:<run id>`. */
  key: string;
  channel: string;
  threadTs?: string;
  text: string;
  blocks?: (KnownBlock | Block)[];
}

export interface PostOnceDeps {
  slack: WebClient;
  db: Queryable;
  logger?: Logger;
}

/** An attempt to post one message, recorded before anything is sent. */
export interface PostAttempt {
  key: string;
  firstStartedAt: Date;
  /** The ts an earlier attempt recorded here (its caller's record may have failed). */
  postedTs: string | null;
  /** An earlier attempt began: it may have posted without anyone learning the ts. */
  earlier: boolean;
}

/** Posts `post` unless an earlier attempt of the same key already did; answers the message's ts. */
export async function postOnce(deps: PostOnceDeps, post: SlackPost): Promise<string> {
  return sendPost(deps, await beginPost(deps.db, post.key), post);
}

/**
 * Records the attempt, committed before the message goes out: no row, no post. Separate
 * from sendPost for a caller that posts while holding a row lock: it records first, so it
 * does not need a second connection while the lock is held.
 */
export async function beginPost(db: Queryable, key: string): Promise<PostAttempt> {
  return (await beginPosts(db, [key])).get(key)!;
}

/**
 * beginPost for a batch of posts, recorded in one statement (one commit before any of them is
 * sent), for a job posting many messages at once; answers each key's attempt.
 */
export async function beginPosts(db: Queryable, keys: string[]): Promise<Map<string, PostAttempt>> {
  const records = await recordPostAttempts(db, keys);
  return new Map(
    [...records].map(([key, record]) => [
      key,
      { key, firstStartedAt: record.firstStartedAt, postedTs: record.postedTs, earlier: record.attempts > 1 },
    ]),
  );
}

/** Keeps the ts of posts made under beginPosts beside their attempts, in one statement (best effort, as recordPosted). */
export async function recordPostedMany(
  db: Queryable,
  posts: Array<{ key: string; ts: string }>,
): Promise<void> {
  await recordPostedTsMany(db, posts).catch(() => undefined);
}

/**
 * Posts under a recorded attempt: an earlier attempt's message, if Slack has it, is answered
 * instead of a new one. `db` (optional) keeps the ts beside the attempt, saving the lookup
 * should the caller's own record fail.
 */
export async function sendPost(
  deps: Omit<PostOnceDeps, 'db'> & { db?: Queryable },
  attempt: PostAttempt,
  post: Omit<SlackPost, 'key'>,
): Promise<string> {
  if (attempt.postedTs) return attempt.postedTs;
  if (attempt.earlier) {
    const found = await findPosted(deps, attempt.key, post, attempt.firstStartedAt);
    if (found) {
      deps.logger?.info(
        { key: attempt.key, ts: found },
        'found the message an earlier attempt posted; not posting it again',
      );
      await recordPosted(deps.db, attempt.key, found);
      return found;
    }
  }
  const result = await deps.slack.chat.postMessage({
    channel: post.channel,
    ...(post.threadTs ? { thread_ts: post.threadTs } : {}),
    text: post.text,
    ...(post.blocks ? { blocks: post.blocks } : {}),
    metadata: { event_type: POST_EVENT_TYPE, event_payload: { post_key: attempt.key } },
  });
  const ts = result.ts ?? '';
  await recordPosted(deps.db, attempt.key, ts);
  return ts;
}

/** Best effort: the caller's own record is the one that counts; this one saves a lookup. */
async function recordPosted(db: Queryable | undefined, key: string, ts: string): Promise<void> {
  if (db) await recordPostedTs(db, key, ts).catch(() => undefined);
}

interface HistoryMessage {
  ts?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

/** Slack errors that mean "this history cannot be read by the bot", not "try later". */
const UNREADABLE = new Set([
  'missing_scope',
  'not_in_channel',
  'channel_not_found',
  'thread_not_found',
  'not_allowed_token_type',
]);

/**
 * The ts of the message carrying `key`, posted since the first attempt began: in the
 * channel's history, or in the thread's replies for a reply (replies are not in history).
 * Undefined when it is not there, or when the history cannot be read (logged: the post that
 * follows may then be a duplicate). Other failures (rate limit, outage) throw: the job
 * retries later rather than guess.
 */
async function findPosted(
  deps: Pick<PostOnceDeps, 'slack' | 'logger'>,
  key: string,
  post: Omit<SlackPost, 'key'>,
  since: Date,
): Promise<string | undefined> {
  const oldest = String(Math.max(0, Math.floor(since.getTime() / 1000) - CLOCK_MARGIN_S));
  let cursor: string | undefined;
  try {
    for (let page = 0; page < MAX_PAGES; page++) {
      const common = {
        channel: post.channel,
        oldest,
        include_all_metadata: true,
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
      };
      const answer = post.threadTs
        ? await deps.slack.conversations.replies({ ...common, ts: post.threadTs })
        : await deps.slack.conversations.history(common);
      const messages = (answer.messages ?? []) as HistoryMessage[];
      const match = messages.find(
        (message) =>
          message.metadata?.event_type === POST_EVENT_TYPE &&
          message.metadata.event_payload?.post_key === key,
      );
      if (match?.ts) return match.ts;
      cursor = answer.response_metadata?.next_cursor || undefined;
      if (!cursor) return undefined;
    }
    deps.logger?.warn(
      { key, channel: post.channel },
      `an earlier post was not among the last ${PAGE * MAX_PAGES} messages; posting again`,
    );
    return undefined;
  } catch (err) {
    const code = (err as { data?: { error?: string } }).data?.error;
    if (!code || !UNREADABLE.has(code)) throw err;
    deps.logger?.warn(
      { key, channel: post.channel, error: code },
      'cannot read the channel history to see whether an earlier attempt posted; posting again (a duplicate is possible)',
    );
    return undefined;
  }
}
