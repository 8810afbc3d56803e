/**
 * The console page: a Slack-like client for the console server (see src/console/protocol.ts).
 * State comes from GET /console/state; the server's SSE stream says when it changed. The
 * layout is built once and its parts are updated in place, so typing in a composer or a
 * modal survives the bot posting in the meantime.
 */
import {
  inputValues,
  missingInputErrors,
  renderBlocks,
  restoreInputValues,
  showInputErrors,
} from './blockKit.js';
import { h, hideOthers } from './dom.js';
import { emojify, mrkdwnToHtml } from './mrkdwn.js';

const BOT_NAME = 'runbook-bot';
const STORAGE_KEYS = { user: 'runbook-console.user', channel: 'runbook-console.channel' };

const app = {
  /** The last ConsoleState. */
  state: null,
  user: undefined,
  channel: undefined,
  /** ts of the thread open on the right, if any. */
  thread: undefined,
  /** ts of the message a permalink (?message=) points at: scrolled to once, when it shows. */
  linked: undefined,
  /** POST and network errors not yet dismissed. */
  errors: [],
  dismissedBotError: undefined,
  drafts: new Map(),
  /** Rendered messages by place and ts, reused while they are unchanged. */
  rendered: new Map(),
  renderedNow: new Set(),
  namesKey: '',
  modal: null,
  live: false,
};

// ---- Layout, built once -------------------------------------------------------------

const ui = {};

function buildLayout() {
  ui.team = h('div', { class: 'team-name' });
  ui.userSelect = h('select', { 'aria-label': 'Acting as', class: 'user-select', onchange: switchUser });
  ui.channels = h('nav', { class: 'channel-list', 'aria-label': 'Channels' });
  ui.status = h('div', { class: 'bot-status' });
  ui.note = h('p', { class: 'console-note', 'data-testid': 'console-note', hidden: true });
  const sidebar = h(
    'aside',
    { class: 'sidebar' },
    ui.team,
    h('div', { class: 'acting-as' }, h('span', { class: 'sidebar-label', text: 'Acting as' }), ui.userSelect),
    h('div', { class: 'sidebar-label', text: 'Channels' }),
    ui.channels,
    ui.note,
    ui.status,
  );

  ui.header = h('header', { class: 'channel-header' });
  ui.messages = h('div', { class: 'messages', role: 'log' });
  ui.notice = h('div', { class: 'composer-notice', hidden: true });
  ui.composer = composer({
    testId: 'composer',
    sendLabel: 'Send',
    onSend: (text) => post('/console/send', { channel: app.channel, text }),
  });
  const main = h('main', { class: 'channel' }, ui.header, ui.messages, ui.notice, ui.composer.root);

  ui.threadTitle = h('div', { class: 'thread-channel' });
  ui.threadMessages = h('div', { class: 'messages thread-messages' });
  ui.threadComposer = composer({
    testId: 'thread-composer',
    label: 'Reply to thread',
    placeholder: 'Reply…',
    sendLabel: 'Send reply',
    onSend: (text) => post('/console/send', { channel: app.channel, text, threadTs: app.thread }),
  });
  ui.thread = h(
    'aside',
    { class: 'thread', 'data-testid': 'thread', 'aria-label': 'Thread', hidden: true },
    h(
      'header',
      { class: 'thread-header' },
      h('div', {}, h('h2', { text: 'Thread' }), ui.threadTitle),
      h('button', {
        type: 'button',
        class: 'icon-button',
        'aria-label': 'Close thread',
        text: '×',
        onclick: () => openThread(undefined),
      }),
    ),
    ui.threadMessages,
    ui.threadComposer.root,
  );

  ui.app = h('div', { class: 'layout', id: 'app' }, sidebar, main, ui.thread);
  // The banner is not hidden behind dialogs: submit errors must stay readable.
  ui.bannerList = h('ul', { class: 'banner-list' });
  ui.banner = h(
    'div',
    { class: 'banner', role: 'alert', 'data-stay-visible': true, hidden: true },
    ui.bannerList,
    h('button', {
      type: 'button',
      class: 'icon-button',
      'aria-label': 'Dismiss',
      text: '×',
      onclick: dismissErrors,
    }),
  );
  document.body.replaceChildren(ui.app, ui.banner);
}

/** A message box: Enter sends, Shift+Enter is a new line; it grows with its text. */
function composer({ testId, label, placeholder, sendLabel, onSend }) {
  const textarea = h('textarea', { 'data-testid': testId, rows: 1, 'aria-label': label, placeholder });
  const autoSize = () => {
    if (!textarea.isConnected || textarea.offsetParent === null) return; // hidden: nothing to measure
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
  };
  const send = async () => {
    const text = textarea.value;
    if (text.trim() === '') return;
    textarea.value = '';
    autoSize();
    const reply = await onSend(text);
    // Give the text back when it was refused, unless something new was typed since.
    if (!reply.ok && textarea.value === '') {
      textarea.value = text;
      autoSize();
    }
  };
  textarea.addEventListener('input', autoSize);
  textarea.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    send();
  });
  const root = h(
    'div',
    { class: 'composer' },
    textarea,
    h(
      'div',
      { class: 'composer-footer' },
      h('span', { class: 'composer-hint', text: 'Enter to send · Shift+Enter for a new line' }),
      h('button', { type: 'button', class: 'send-button', text: sendLabel, onclick: send }),
    ),
  );
  return { root, textarea, autoSize };
}

// ---- Server ----------------------------------------------------------------------------

let loading = null;
let loadAgain = false;

/** Fetches the state; calls while one is running are folded into one more fetch after it. */
function refresh() {
  if (loading) {
    loadAgain = true;
    return loading;
  }
  loading = (async () => {
    do {
      loadAgain = false;
      await loadState();
    } while (loadAgain);
  })().finally(() => {
    loading = null;
  });
  return loading;
}

async function loadState() {
  const user = app.user;
  let state;
  try {
    const url = user ? `/console/state?user=${encodeURIComponent(user)}` : '/console/state';
    const response = await fetch(url, { cache: 'no-store' });
    state = await response.json().catch(() => undefined);
    if (!response.ok || !state?.users) throw new Error(state?.error ?? `HTTP ${response.status}`);
  } catch (error) {
    // A user remembered from an earlier session may be gone: start over without one.
    if (!app.state && user) {
      app.user = undefined;
      loadAgain = true;
      return;
    }
    addError(`Could not load the console state: ${error.message}`);
    return;
  }
  if (user !== app.user) {
    loadAgain = true; // the user was switched while this was loading
    return;
  }
  app.state = state;
  const humans = state.users.filter((u) => !u.isBot);
  if (!humans.some((u) => u.id === app.user)) {
    app.user = humans[0]?.id;
    if (app.user) loadAgain = true; // this state was not the chosen user's view
  }
  chooseChannel();
  remember();
  render();
}

/** POSTs to the server as the acting user; shows what went wrong; answers a ConsoleReply. */
async function post(path, body) {
  let reply;
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: app.user, ...body }),
    });
    reply = await response
      .json()
      .catch(() => ({ ok: false, error: `${path} answered HTTP ${response.status}` }));
  } catch (error) {
    reply = { ok: false, error: `Could not reach the console server: ${error.message}` };
  }
  // Field errors belong under the fields (the modal shows them), not in the banner.
  if (!reply.ok && !reply.errors) addError(reply.error ?? `${path} failed`);
  refresh(); // the event stream says so too; this covers a broken stream
  return reply;
}

function listen() {
  const events = new EventSource('/console/events');
  events.addEventListener('message', (event) => {
    const version = Number(event.data);
    if (!app.state || !(version <= app.state.version)) refresh();
  });
  events.addEventListener('open', () => {
    app.live = true;
    renderStatus();
    refresh(); // changes made while disconnected
  });
  events.addEventListener('error', () => {
    app.live = false;
    renderStatus();
  });
}

// ---- Choices kept in the URL and localStorage ------------------------------------------

function readChoices() {
  const query = new URLSearchParams(location.search);
  app.user = query.get('user') || stored(STORAGE_KEYS.user) || undefined;
  app.channel = query.get('channel') || stored(STORAGE_KEYS.channel) || undefined;
  app.thread = query.get('thread') || undefined;
  app.linked = query.get('message') || undefined;
}

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage can be disabled; the URL still works
  }
}

function remember() {
  const query = new URLSearchParams();
  if (app.user) query.set('user', app.user);
  if (app.channel) query.set('channel', app.channel);
  if (app.thread) query.set('thread', app.thread);
  history.replaceState(null, '', `?${query}`);
  try {
    if (app.user) localStorage.setItem(STORAGE_KEYS.user, app.user);
    if (app.channel) localStorage.setItem(STORAGE_KEYS.channel, app.channel);
  } catch {
    // Storage can be disabled; the URL still works.
  }
}

/** Keeps the chosen channel if it exists, else the first one the user is in, else the first. */
function chooseChannel() {
  const { channels } = app.state;
  if (channels.some((c) => c.id === app.channel)) return;
  app.channel = (channels.find((c) => c.members.includes(app.user)) ?? channels[0])?.id;
  app.thread = undefined;
}

function switchUser() {
  app.user = ui.userSelect.value;
  remember();
  refresh();
}

function switchChannel(id) {
  if (id === app.channel) return;
  app.drafts.set(app.channel, ui.composer.textarea.value);
  app.channel = id;
  app.thread = undefined;
  ui.composer.textarea.value = app.drafts.get(id) ?? '';
  ui.composer.autoSize();
  remember();
  render();
  ui.composer.textarea.focus();
}

function openThread(ts) {
  app.thread = ts;
  remember();
  render();
  if (ts) ui.threadComposer.textarea.focus();
}

/**
 * A permalink the console gave (chat.getPermalink) opens here, as Slack opens its own in the
 * app: the channel, its thread, scrolled to the message. Other links open in a new tab.
 */
function followPermalink(event) {
  const anchor = event.target.closest?.('a[href]');
  if (!anchor || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const link = new URL(anchor.href);
  const channel = link.searchParams.get('channel');
  if (link.origin !== location.origin || !channel) return;
  event.preventDefault();
  if (channel !== app.channel) app.drafts.set(app.channel, ui.composer.textarea.value);
  app.channel = channel;
  app.thread = link.searchParams.get('thread') || undefined;
  app.linked = link.searchParams.get('message') || undefined;
  remember();
  render();
}

// ---- Errors ----------------------------------------------------------------------------

function addError(message) {
  if (!app.errors.includes(message)) app.errors.push(message);
  renderBanner();
}

function dismissErrors() {
  app.errors = [];
  app.dismissedBotError = app.state?.bot.lastError;
  renderBanner();
}

function renderBanner() {
  const botError = app.state?.bot.lastError;
  const messages = [...app.errors];
  if (botError && botError !== app.dismissedBotError && !messages.includes(botError)) {
    messages.push(`The bot: ${botError}`);
  }
  ui.bannerList.replaceChildren(...messages.map((message) => h('li', { text: message })));
  ui.banner.hidden = messages.length === 0;
}

// ---- Rendering -------------------------------------------------------------------------

function render() {
  if (!app.state) return;
  // Messages show names, so a renamed user or channel redraws them.
  app.namesKey = JSON.stringify([
    app.state.users,
    app.state.channels.map((c) => c.name),
    app.state.botUserId,
  ]);
  app.renderedNow = new Set();
  renderSidebar();
  renderChannel();
  renderThread();
  for (const id of app.rendered.keys()) if (!app.renderedNow.has(id)) app.rendered.delete(id);
  renderModal();
  renderBanner();
  renderStatus();
}

const userById = (id) => app.state.users.find((u) => u.id === id);
const channelById = (id) => app.state.channels.find((c) => c.id === id);

/** Names for mentions: handles, as Slack shows them. */
const lookup = {
  userName: (id) => (id === app.state?.botUserId ? BOT_NAME : userById(id)?.name),
  channelName: (id) => channelById(id)?.name,
};

function renderSidebar() {
  const { state } = app;
  ui.team.textContent = state.team.name;
  document.title = `${state.team.name} · runbook-bot console`;
  const humans = state.users.filter((u) => !u.isBot);
  const options = humans.map((u) =>
    h('option', { value: u.id, text: `${u.realName || u.name} (@${u.name})` }),
  );
  if (JSON.stringify(humans) !== ui.userSelect.dataset.users) {
    ui.userSelect.replaceChildren(...options);
    ui.userSelect.dataset.users = JSON.stringify(humans);
  }
  ui.userSelect.value = app.user ?? '';
  ui.channels.replaceChildren(
    ...state.channels.map((channel) => {
      const member = channel.members.includes(app.user);
      return h('button', {
        type: 'button',
        class: `channel-button${member ? '' : ' not-member'}${channel.id === app.channel ? ' active' : ''}`,
        'aria-current': channel.id === app.channel ? 'true' : null,
        title: member ? null : 'You are not a member of this channel',
        text: `${channel.isPrivate ? '🔒' : '#'} ${channel.name}`,
        onclick: () => switchChannel(channel.id),
      });
    }),
  );
}

function renderStatus() {
  ui.note.textContent = app.state?.note ?? '';
  ui.note.hidden = !app.state?.note;
  const bot = app.state?.bot;
  const ok = app.live && !bot?.lastError;
  ui.status.replaceChildren(
    h('span', { class: `status-dot${ok ? ' ok' : ''}` }),
    h('span', {
      class: 'bot-status-text',
      text: !app.live ? 'Reconnecting to the console…' : bot ? `Bot at ${bot.url}` : 'Connected',
      title: bot ? `${bot.url}${bot.lastError ? `\n${bot.lastError}` : ''}` : null,
    }),
  );
}

function renderChannel() {
  const channel = channelById(app.channel);
  if (!channel) {
    ui.header.replaceChildren(h('h1', { text: 'No channels' }));
    ui.messages.replaceChildren();
    return;
  }
  const member = channel.members.includes(app.user);
  const prefix = channel.isPrivate ? '🔒' : '#';
  ui.header.replaceChildren(
    h('h1', { text: `${prefix} ${channel.name}` }),
    h(
      'div',
      { class: 'channel-meta' },
      h('span', { text: `${channel.members.length} member${channel.members.length === 1 ? '' : 's'}` }),
      h('span', { text: `📌 ${channel.pins.length} pinned` }),
      channel.topic ? h('span', { class: 'channel-topic', text: channel.topic }) : null,
    ),
  );
  ui.messages.setAttribute('aria-label', `Messages in ${prefix} ${channel.name}`);
  const label = `Message #${channel.name}`;
  ui.composer.textarea.setAttribute('aria-label', label);
  ui.composer.textarea.placeholder = label;
  ui.notice.hidden = member;
  ui.notice.textContent = member
    ? ''
    : `@${lookup.userName(app.user)} is not a member of ${prefix} ${channel.name}: the bot may not see what you send here.`;

  const all = app.state.messages.filter((m) => m.channel === channel.id);
  const top = all.filter((m) => !m.threadTs || m.threadTs === m.ts);
  const wasNearBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
  const switched = ui.messages.dataset.channel !== channel.id;
  const before = new Set(
    [...ui.messages.querySelectorAll('[data-testid=message]')].map((el) => el.dataset.ts),
  );
  const nodes = top.map((m) =>
    messageNode(m, 'channel', { replies: m.replyCount ?? 0 } /* counted by the server */),
  );
  sync(ui.messages, nodes.length > 0 ? nodes : [emptyNote(channel)]);
  ui.messages.dataset.channel = channel.id;
  // Follow new messages when already at the bottom, or when they are the user's own.
  const ownNew = top.some((m) => !before.has(m.ts) && m.user === app.user);
  if (switched || wasNearBottom || ownNew) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function emptyNote(channel) {
  return h('div', { class: 'empty', text: `This is the very beginning of #${channel.name}.` });
}

function renderThread() {
  const messages = app.state.messages.filter((m) => m.channel === app.channel);
  const parent = app.thread && messages.find((m) => m.ts === app.thread);
  if (!parent) {
    if (app.thread) {
      app.thread = undefined;
      remember();
    }
    ui.thread.hidden = true;
    ui.app.classList.remove('with-thread');
    return;
  }
  const replies = messages.filter((m) => m.threadTs === parent.ts && m.ts !== parent.ts);
  const opened = ui.thread.hidden || ui.threadMessages.dataset.thread !== parent.ts;
  ui.thread.hidden = false;
  ui.app.classList.add('with-thread');
  ui.threadTitle.textContent = `#${channelById(app.channel)?.name ?? ''}`;
  const wasNearBottom =
    ui.threadMessages.scrollHeight - ui.threadMessages.scrollTop - ui.threadMessages.clientHeight < 80;
  sync(ui.threadMessages, [
    messageNode(parent, 'thread'),
    h('div', {
      class: 'reply-divider',
      text: `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`,
    }),
    ...replies.map((m) => messageNode(m, 'thread')),
  ]);
  ui.threadMessages.dataset.thread = parent.ts;
  const linked =
    app.linked &&
    ui.threadMessages.querySelector(`[data-testid=message][data-ts="${CSS.escape(app.linked)}"]`);
  if (linked) {
    app.linked = undefined;
    linked.classList.add('linked');
    linked.scrollIntoView({ block: 'start' });
  } else if (opened || wasNearBottom) ui.threadMessages.scrollTop = ui.threadMessages.scrollHeight;
}

/** Makes `container`'s children be `nodes`, moving only what changed (keeps focus, handles). */
function sync(container, nodes) {
  for (const [index, node] of nodes.entries()) {
    if (container.children[index] !== node) container.insertBefore(node, container.children[index] ?? null);
  }
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

/** A message element, reused from the last render when nothing it shows has changed. */
function messageNode(message, place, extra = {}) {
  const pinned = channelById(message.channel)?.pins.includes(message.ts) ?? false;
  const key = JSON.stringify([message, pinned, extra, app.namesKey]);
  const id = `${place}:${message.channel}:${message.ts}:${message.ephemeral ? 'e' : ''}`;
  app.renderedNow.add(id);
  const cached = app.rendered.get(id);
  if (cached?.key === key) return cached.node;
  const node = renderMessage(message, place, { ...extra, pinned });
  app.rendered.set(id, { key, node });
  return node;
}

function renderMessage(message, place, { replies = 0, pinned }) {
  const isBot = message.user === app.state.botUserId || userById(message.user)?.isBot;
  const user = userById(message.user);
  const author =
    message.user === app.state.botUserId ? BOT_NAME : user?.realName || user?.name || message.user;
  const time = new Date(Number(message.ts) * 1000);

  const hasBlocks = Array.isArray(message.blocks) && message.blocks.length > 0;
  const content = hasBlocks
    ? renderBlocks(message.blocks, {
        lookup,
        onAction: ({ blockId, actionId }) =>
          post('/console/action', {
            channel: message.channel,
            messageTs: message.ts,
            ephemeral: message.ephemeral === true,
            blockId,
            actionId,
          }),
      })
    : h('div', { class: 'mrkdwn', html: mrkdwnToHtml(message.text, lookup) });
  // After the text (inline, as Slack shows it) or under the blocks.
  if (message.edited) content.append(h('span', { class: 'edited', text: ' (edited)' }));

  return h(
    'article',
    {
      class: `message${message.ephemeral ? ' ephemeral' : ''}${pinned ? ' pinned' : ''}`,
      'data-testid': 'message',
      'data-ts': message.ts,
    },
    h(
      'div',
      { class: `avatar${isBot ? ' bot' : ''}`, 'aria-hidden': 'true', style: `--hue:${hue(message.user)}` },
      [author.slice(0, 1).toUpperCase()],
    ),
    h(
      'div',
      { class: 'message-body' },
      pinned ? h('div', { class: 'pinned-note', text: '📌 Pinned' }) : null,
      message.ephemeral
        ? h(
            'div',
            { class: 'ephemeral-note' },
            h('span', { 'aria-hidden': 'true', text: '👁 ' }),
            'Only visible to you',
          )
        : null,
      h(
        'div',
        { class: 'message-meta' },
        h('span', { class: 'author', text: author }),
        isBot ? h('span', { class: 'app-badge', text: 'APP' }) : null,
        h('time', { datetime: time.toISOString(), title: time.toLocaleString(), text: clock(time) }),
      ),
      h('div', { class: 'message-content' }, content),
      hasBlocks ? fallbackText(message.text, content) : null,
      files(message.files),
      place === 'channel' && replies > 0
        ? h('button', {
            type: 'button',
            class: 'replies-link',
            text: `${replies} ${replies === 1 ? 'reply' : 'replies'}`,
            onclick: () => openThread(message.ts),
          })
        : null,
    ),
    place === 'channel'
      ? h(
          'div',
          { class: 'message-actions' },
          h('button', {
            type: 'button',
            class: 'icon-button',
            'aria-label': 'Reply in thread',
            title: 'Reply in thread',
            text: '💬',
            onclick: () => openThread(message.ts),
          }),
        )
      : null,
  );
}

/**
 * With blocks, Slack shows the message's `text` only to notifications and screen readers.
 * Here it is kept for screen readers (visually hidden), unless the blocks already say it.
 */
function fallbackText(text, content) {
  if (!text?.trim()) return null;
  const node = h('div', { class: 'visually-hidden', html: mrkdwnToHtml(text, lookup) });
  const flat = (value) => value.replace(/\s+/g, ' ').trim();
  return flat(content.textContent).includes(flat(node.textContent)) ? null : node;
}

function files(list) {
  if (!Array.isArray(list) || list.length === 0) return null;
  return h(
    'div',
    { class: 'files' },
    list.map((file) =>
      h(
        'a',
        { class: 'file', href: file.url, target: '_blank', rel: 'noopener' },
        h('span', { class: 'file-icon', 'aria-hidden': 'true', text: '📄' }),
        h('span', { class: 'file-title', text: file.title || file.name }),
        h('span', { class: 'file-size', text: `${file.name} · ${size(file.size)}` }),
      ),
    ),
  );
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function clock(date) {
  return date.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
}

/** A stable avatar colour per user. */
function hue(id) {
  let sum = 0;
  for (const char of String(id)) sum = (sum * 31 + char.charCodeAt(0)) % 360;
  return sum;
}

// ---- Modal -------------------------------------------------------------------------------

/** The top of the user's view stack as a modal dialog; redrawn only when the view changes. */
function renderModal() {
  const top = app.state.views.at(-1);
  const current = app.modal;
  if (!top) {
    if (current) closeModalElement();
    return;
  }
  const viewKey = JSON.stringify(top.view);
  if (current && current.id === top.id && current.viewKey === viewKey) {
    current.serverErrors = top.errors ?? {};
    showInputErrors(current.body, { ...current.serverErrors, ...current.localErrors });
    return;
  }
  // An updated view keeps what was typed into inputs it still has (as Slack does).
  const typed = current?.id === top.id ? inputValues(current.body) : {};
  if (current) closeModalElement();

  const view = top.view;
  const title = emojify(view.title?.text ?? 'Modal');
  const body = renderBlocks(view.blocks, { lookup, errors: top.errors ?? {} });
  restoreInputValues(body, typed);
  const submit = view.submit
    ? h('button', { type: 'submit', class: 'bk-button primary', text: emojify(view.submit.text ?? 'Submit') })
    : null;
  const form = h(
    'form',
    { class: 'dialog modal', role: 'dialog', 'aria-modal': 'true', 'aria-label': title, novalidate: true },
    h('header', { class: 'modal-header' }, h('h2', { class: 'dialog-title', text: title })),
    h('div', { class: 'modal-body' }, body),
    h(
      'footer',
      { class: 'dialog-buttons' },
      h('button', {
        type: 'button',
        class: 'bk-button default',
        text: emojify(view.close?.text ?? 'Cancel'),
        onclick: () => post('/console/close', { viewId: top.id }),
      }),
      submit,
    ),
  );
  const modal = { id: top.id, viewKey, body, serverErrors: top.errors ?? {}, localErrors: {} };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitModal(modal, submit);
  });
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') post('/console/close', { viewId: top.id });
  });
  const overlay = h('div', { class: 'overlay' }, form);
  modal.overlay = overlay;
  modal.restore = hideOthers(overlay);
  document.body.append(overlay);
  app.modal = modal;
  (body.querySelector('input, textarea') ?? submit ?? form).focus();
}

async function submitModal(modal, button) {
  const missing = missingInputErrors(modal.body);
  modal.localErrors = missing;
  showInputErrors(modal.body, { ...modal.serverErrors, ...missing });
  if (Object.keys(missing).length > 0) {
    modal.body.querySelector('[aria-invalid]')?.focus();
    return;
  }
  if (button) button.disabled = true;
  const reply = await post('/console/submit', { viewId: modal.id, values: inputValues(modal.body) });
  if (button) button.disabled = false;
  if (reply.errors) {
    modal.localErrors = reply.errors;
    showInputErrors(modal.body, reply.errors);
  }
}

function closeModalElement() {
  app.modal.overlay.remove();
  app.modal.restore();
  app.modal = null;
}

// ---- Start -------------------------------------------------------------------------------

buildLayout();
readChoices();
document.addEventListener('click', followPermalink);
renderStatus();
listen();
refresh();
