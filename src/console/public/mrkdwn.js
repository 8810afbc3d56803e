/**
 * Slack mrkdwn to safe HTML, for the console page.
 *
 * Everything the bot (or a person) wrote is escaped before any tag is added, so no text can
 * inject markup: the only tags in the output are the ones this module writes.
 */

/** The shortcodes the bot uses (grep ":name:" in src), plus a few people type. */
const EMOJI = {
  '+1': '👍',
  alarm_clock: '⏰',
  arrow_right: '➡️',
  ballot_box_with_check: '☑️',
  checkered_flag: '🏁',
  eyes: '👀',
  gear: '⚙️',
  grey_question: '❔',
  hammer_and_wrench: '🛠️',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  keyboard: '⌨️',
  large_blue_circle: '🔵',
  large_green_circle: '🟢',
  large_orange_circle: '🟠',
  large_yellow_circle: '🟡',
  mag: '🔍',
  memo: '📝',
  microscope: '🔬',
  no_entry: '⛔',
  no_entry_sign: '🚫',
  pushpin: '📌',
  question: '❓',
  raised_hand: '✋',
  red_circle: '🔴',
  rocket: '🚀',
  rotating_light: '🚨',
  tada: '🎉',
  thumbsup: '👍',
  warning: '⚠️',
  white_check_mark: '✅',
  white_circle: '⚪',
  x: '❌',
};

const LINK_SCHEMES = /^(https?:\/\/|mailto:)/i;
const SPECIAL_MENTIONS = { here: '@here', channel: '@channel', everyone: '@everyone' };

// Stashed HTML is referenced by \uE000<index>\uE001 (private-use characters) while the rest
// of the text is processed; those characters are stripped from the input, so no text can
// forge a reference.
const STASH_REF = /\uE000(\d+)\uE001/g;
const STASH_CHARS = /[\uE000\uE001]/g;

/** Slack escapes exactly these three; decode them so they are escaped once, not twice. */
function decodeSlackEntities(text) {
  return text.replace(/&(amp|lt|gt);/g, (_, name) => ({ amp: '&', lt: '<', gt: '>' })[name]);
}

/** Escapes text for HTML element content and (double- or single-quoted) attributes. */
export function escapeHtml(text) {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Replaces :shortcode: with its emoji where known; unknown shortcodes stay as text. */
export function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (code, name) => (Object.hasOwn(EMOJI, name) ? EMOJI[name] : code));
}

/** A plain_text object as escaped HTML (emoji shortcodes converted unless emoji is false). */
export function plainText(textObject) {
  const text = typeof textObject?.text === 'string' ? textObject.text : '';
  return escapeHtml(textObject?.emoji === false ? text : emojify(text));
}

/** Slack text (raw, entities still encoded) as escaped HTML. */
function literal(text) {
  return escapeHtml(decodeSlackEntities(text));
}

/** One `<…>` control sequence: link, user or channel mention, special mention. */
function controlSequence(body, lookup) {
  const bar = body.indexOf('|');
  const target = bar === -1 ? body : body.slice(0, bar);
  const label = bar === -1 ? undefined : decodeSlackEntities(body.slice(bar + 1));
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const name = lookup?.userName?.(id) ?? label?.replace(/^@/, '') ?? id;
    return `<span class="mention">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    const name = lookup?.channelName?.(id) ?? label?.replace(/^#/, '') ?? id;
    return `<span class="mention">#${escapeHtml(name)}</span>`;
  }
  if (target.startsWith('!')) {
    const special = SPECIAL_MENTIONS[target.slice(1)];
    // Dates, user groups and the like: Slack shows the fallback label.
    const text = special ?? label ?? target.slice(1);
    return `<span class="mention">${escapeHtml(text)}</span>`;
  }
  const url = decodeSlackEntities(target);
  if (LINK_SCHEMES.test(url)) {
    const text = label ?? url.replace(/^mailto:/i, '');
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(text)}</a>`;
  }
  // A labelled link with another scheme (javascript:…) shows its label only; anything else
  // (`<script>`, `<summary>`) is not Slack syntax, so it shows as it was written.
  return label === undefined ? literal(`<${body}>`) : escapeHtml(label);
}

/** *bold*, _italic_, ~strike~: markers at word boundaries around non-blank text on one line. */
function emphasis(html) {
  let out = html;
  for (const [mark, tag] of [
    ['*', 'b'],
    ['_', 'i'],
    ['~', 's'],
  ]) {
    const m = `\\${mark}`;
    const pattern = new RegExp(`(^|[^\\w${m}])${m}(?=\\S)([^${m}\\n]*?\\S)${m}(?![\\w${m}])`, 'g');
    out = out.replace(pattern, `$1<${tag}>$2</${tag}>`);
  }
  return out;
}

/** Consecutive lines starting with `>` (escaped by now) become one blockquote. */
function blockquotes(html) {
  const out = [];
  let quote = [];
  const flush = () => {
    if (quote.length > 0) out.push(`<blockquote>${quote.join('<br>')}</blockquote>`);
    quote = [];
  };
  for (const line of html.split('\n')) {
    if (line.startsWith('&gt;')) {
      quote.push(line.slice(4).replace(/^ /, ''));
    } else {
      flush();
      out.push(`${line}\n`);
    }
  }
  flush();
  // A blockquote is a block of its own, so it needs no <br> around it.
  return out
    .join('')
    .replace(/\n$/, '')
    .replaceAll('\n', '<br>')
    .replace(/<br>(?=<blockquote>)/g, '');
}

/**
 * Slack mrkdwn as HTML. `lookup` names users and channels for `<@U…>` and `<#C…>`.
 * Code is taken out first (nothing is formatted inside it), then control sequences, then
 * the remaining text is escaped and formatted.
 */
export function mrkdwnToHtml(text, lookup) {
  const stash = [];
  const put = (html) => `\uE000${stash.push(html) - 1}\uE001`;
  let out = String(text ?? '').replace(STASH_CHARS, '');

  // ```pre``` first (may span lines; it is a block, so the line breaks around it go), then
  // `inline code` on one line.
  out = out.replace(/\n?```\n?([\s\S]*?)```\n?/g, (_, code) => put(`<pre>${literal(code)}</pre>`));
  out = out.replace(/`([^`\n]+)`/g, (_, code) => put(`<code>${literal(code)}</code>`));
  out = out.replace(/<([^<>\n]+)>/g, (_, body) => put(controlSequence(body, lookup)));

  out = emphasis(emojify(literal(out)));
  out = blockquotes(out);
  return out.replace(STASH_REF, (_, index) => stash[Number(index)]);
}
