/**
 * What the console's web page and its server say to each other (JSON over /console/*).
 * The page is plain JavaScript; these types are the contract it is written against.
 */

export interface ConsoleUser {
  id: string;
  name: string;
  realName: string;
  isBot: boolean;
}

export interface ConsoleChannel {
  id: string;
  name: string;
  isPrivate: boolean;
  topic: string;
  members: string[];
  /** ts of pinned messages, oldest first. */
  pins: string[];
}

export interface ConsoleFile {
  id: string;
  name: string;
  title: string;
  /** Relative URL the page can open or download. */
  url: string;
  size: number;
}

/** What a message is, stored and on the wire alike. */
export interface MessageCore {
  channel: string;
  ts: string;
  /** Set on replies (and on a thread's parent, equal to ts, once it has replies). */
  threadTs?: string;
  /** Author: a user id, or the bot user's id. */
  user: string;
  text: string;
  /** Block Kit blocks exactly as the bot sent them (already validated). */
  blocks?: unknown[];
  edited?: boolean;
}

/** A message as the page gets it: who it is for and its files resolved, replies counted. */
export interface ConsoleMessage extends MessageCore {
  files?: ConsoleFile[];
  /** Ephemeral messages are only in the state of the user they are for. */
  ephemeral?: boolean;
  /** Number of replies, on a thread's parent. */
  replyCount?: number;
}

export interface ConsoleView {
  id: string;
  /** The view as the bot sent it to views.open (type modal, title, blocks, submit, close…). */
  view: Record<string, unknown>;
  /** Per block_id error messages from the last submission (response_action: errors). */
  errors?: Record<string, string>;
}

/** GET /console/state?user=U… */
export interface ConsoleState {
  /** Increases on every change; GET /console/events (SSE) sends it as `data` when it does. */
  version: number;
  team: { id: string; name: string };
  botUserId: string;
  users: ConsoleUser[];
  channels: ConsoleChannel[];
  /** Every message the user can see (their own ephemerals included), oldest first. */
  messages: ConsoleMessage[];
  /** The user's open modal stack, bottom first. */
  views: ConsoleView[];
  /** Where the bot listens, and whether it answered the last delivery. */
  bot: { url: string; lastError?: string };
  /** What whoever started the console wants every user to know (the demo: what it changed). */
  note?: string;
}

/** POST /console/send: a message or a slash command typed in the composer. */
export interface SendRequest {
  user: string;
  channel: string;
  text: string;
  threadTs?: string;
}

/** POST /console/action: a button click (after its confirm dialog, if it has one). */
export interface ActionRequest {
  user: string;
  channel: string;
  messageTs: string;
  /** True when the clicked message is an ephemeral one. */
  ephemeral?: boolean;
  blockId: string;
  actionId: string;
}

/** POST /console/submit: a modal's submit button; values by block_id then action_id. */
export interface SubmitRequest {
  user: string;
  viewId: string;
  values: Record<string, Record<string, string>>;
}

/** POST /console/close: the modal's close button. */
export interface CloseRequest {
  user: string;
  viewId: string;
}

/** Every POST answers this; `error` says what went wrong in words a person can act on. */
export interface ConsoleReply {
  ok: boolean;
  error?: string;
  /** POST /console/submit: the bot refused some fields; the modal stays open. */
  errors?: Record<string, string>;
}
