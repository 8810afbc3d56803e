/**
 * Block Kit blocks to DOM, as Slack would show them: messages and modal bodies.
 *
 * ctx: {
 *   lookup: { userName(id), channelName(id) }   names for mentions
 *   onAction?: ({ blockId, actionId, value }) => Promise   a button was clicked (after its
 *     confirm dialog); without it buttons are disabled
 *   errors?: { [block_id]: message }   input errors to show (modals)
 * }
 */
import { h, hideOthers, uid } from './dom.js';
import { emojify, mrkdwnToHtml } from './mrkdwn.js';

/** Blocks as one element. */
export function renderBlocks(blocks, ctx) {
  const root = h('div', { class: 'bk-blocks' });
  for (const block of Array.isArray(blocks) ? blocks : []) root.append(renderBlock(block, ctx));
  if (ctx?.errors) showInputErrors(root, ctx.errors);
  return root;
}

function renderBlock(block, ctx) {
  switch (block?.type) {
    case 'header':
      return h('h3', { class: 'bk-header' }, textNode(block.text, ctx));
    case 'section':
      return section(block, ctx);
    case 'context':
      return h(
        'div',
        { class: 'bk-context' },
        (block.elements ?? []).map((element) =>
          element.type === 'image' ? image(element, 'bk-context-image') : textNode(element, ctx),
        ),
      );
    case 'divider':
      return h('hr', { class: 'bk-divider' });
    case 'actions':
      return h(
        'div',
        { class: 'bk-actions' },
        (block.elements ?? []).map((element) => interactive(element, block, ctx)),
      );
    case 'image':
      return h(
        'figure',
        { class: 'bk-image' },
        block.title ? h('figcaption', {}, textNode(block.title, ctx)) : null,
        image(block),
      );
    case 'rich_text':
      return h('div', { class: 'bk-rich-text', text: richText(block.elements, ctx).replace(/\n$/, '') });
    case 'input':
      return input(block, ctx);
    default:
      return unsupported('block', block?.type);
  }
}

/** A text object: mrkdwn (escaped by mrkdwnToHtml) or plain_text (as text). */
function textNode(text, ctx) {
  if (!text || typeof text.text !== 'string') return h('span');
  if (text.type === 'mrkdwn')
    return h('span', { class: 'mrkdwn', html: mrkdwnToHtml(text.text, ctx?.lookup) });
  return h('span', { text: text.emoji === false ? text.text : emojify(text.text) });
}

function section(block, ctx) {
  const body = h(
    'div',
    { class: 'bk-section-body' },
    block.text ? h('div', {}, textNode(block.text, ctx)) : null,
  );
  if (Array.isArray(block.fields) && block.fields.length > 0) {
    body.append(
      h(
        'div',
        { class: 'bk-fields' },
        block.fields.map((field) => h('div', { class: 'bk-field' }, textNode(field, ctx))),
      ),
    );
  }
  const accessory = block.accessory
    ? h(
        'div',
        { class: 'bk-accessory' },
        block.accessory.type === 'image'
          ? image(block.accessory, 'bk-accessory-image')
          : interactive(block.accessory, block, ctx),
      )
    : null;
  return h('div', { class: 'bk-section' }, body, accessory);
}

function image(element, className = 'bk-image-img') {
  return h('img', { class: className, src: element.image_url, alt: element.alt_text ?? '', loading: 'lazy' });
}

function unsupported(kind, type) {
  return h('div', { class: 'bk-unsupported', text: `[unsupported ${kind}: ${type ?? 'unknown'}]` });
}

/** An element in actions or an accessory: buttons work; anything else is named. */
function interactive(element, block, ctx) {
  return element?.type === 'button' ? button(element, block, ctx) : unsupported('element', element?.type);
}

function button(element, block, ctx) {
  const style = element.style === 'primary' || element.style === 'danger' ? element.style : 'default';
  const node = h('button', {
    type: 'button',
    class: `bk-button ${style}`,
    text: emojify(element.text?.text ?? ''),
    'data-action-id': element.action_id,
  });
  if (element.url) {
    node.addEventListener('click', () => openUrl(element.url));
    return node;
  }
  if (!ctx?.onAction) {
    node.disabled = true;
    node.title = 'Buttons here are not supported by the console';
    return node;
  }
  node.addEventListener('click', async () => {
    if (element.confirm && !(await confirmDialog(element.confirm, ctx.lookup))) return;
    // One click, one action: the message is usually replaced by the bot's answer anyway.
    node.disabled = true;
    try {
      await ctx.onAction({
        blockId: block.block_id ?? '',
        actionId: element.action_id ?? '',
        value: element.value,
      });
    } finally {
      node.disabled = false;
    }
  });
  return node;
}

function openUrl(url) {
  if (/^(https?:|mailto:)/i.test(url)) window.open(url, '_blank', 'noopener');
}

/**
 * A button's confirm object as a modal alert dialog. Resolves true on confirm, false on
 * deny, Escape or a click outside.
 */
export function confirmDialog(confirm, lookup) {
  return new Promise((resolve) => {
    const titleId = uid('confirm-title');
    const textId = uid('confirm-text');
    const previousFocus = document.activeElement;
    const ctx = { lookup };
    const denyButton = h(
      'button',
      { type: 'button', class: 'bk-button default' },
      textNode(confirm.deny, ctx),
    );
    const confirmButton = h(
      'button',
      { type: 'button', class: `bk-button ${confirm.style === 'danger' ? 'danger' : 'primary'}` },
      textNode(confirm.confirm, ctx),
    );
    if (!confirm.deny?.text) denyButton.textContent = 'Cancel';
    if (!confirm.confirm?.text) confirmButton.textContent = 'Yes';
    const dialog = h(
      'div',
      { class: 'dialog confirm', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': titleId },
      h('h2', { id: titleId, class: 'dialog-title' }, textNode(confirm.title, ctx)),
      h('div', { id: textId, class: 'dialog-body' }, textNode(confirm.text, ctx)),
      h('div', { class: 'dialog-buttons' }, denyButton, confirmButton),
    );
    dialog.setAttribute('aria-describedby', textId);
    const overlay = h('div', { class: 'overlay' }, dialog);
    const restore = hideOthers(overlay);
    const finish = (answer) => {
      overlay.remove();
      restore();
      if (previousFocus?.isConnected) previousFocus.focus();
      resolve(answer);
    };
    denyButton.addEventListener('click', () => finish(false));
    confirmButton.addEventListener('click', () => finish(true));
    overlay.addEventListener('click', (event) => event.target === overlay && finish(false));
    dialog.addEventListener('keydown', (event) => event.key === 'Escape' && finish(false));
    document.body.append(overlay);
    confirmButton.focus();
  });
}

/** An input block (modals): label, plain_text_input or static_select, optional note, hint, error slot. */
function input(block, ctx) {
  const element = block.element ?? {};
  const id = uid('input');
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  let control;
  if (element.type === 'plain_text_input') {
    control = h(element.multiline ? 'textarea' : 'input', {
      id,
      class: 'bk-text-input',
      type: element.multiline ? undefined : 'text',
      rows: element.multiline ? 4 : undefined,
      placeholder: element.placeholder?.text,
      maxlength: element.max_length,
      'data-action-id': element.action_id ?? '',
      'aria-describedby': `${block.hint ? `${hintId} ` : ''}${errorId}`,
    });
    control.value = element.initial_value ?? '';
  } else if (element.type === 'static_select') {
    // The placeholder is the empty first choice, as Slack shows a menu nothing was chosen in.
    control = h(
      'select',
      {
        id,
        class: 'bk-text-input bk-select',
        'data-action-id': element.action_id ?? '',
        'aria-describedby': `${block.hint ? `${hintId} ` : ''}${errorId}`,
      },
      h('option', { value: '', text: element.placeholder?.text ?? 'Select an item' }),
      ...(element.options ?? []).map((option) =>
        h('option', { value: option.value, text: option.text?.text ?? '' }),
      ),
    );
    control.value = element.initial_option?.value ?? '';
  } else {
    control = unsupported('element', element.type);
  }
  return h(
    'div',
    {
      class: 'bk-input',
      'data-block-id': block.block_id ?? '',
      'data-optional': block.optional ? 'true' : null,
    },
    h(
      'label',
      { class: 'bk-label', for: id },
      textNode(block.label, ctx),
      block.optional ? h('span', { class: 'bk-optional', text: ' (optional)' }) : null,
    ),
    control,
    block.hint ? h('div', { class: 'bk-hint', id: hintId }, textNode(block.hint, ctx)) : null,
    h('div', { class: 'bk-error', id: errorId, hidden: true }),
  );
}

/** Shows `errors` (by block_id) under the input blocks in `root`, clearing the others. */
export function showInputErrors(root, errors = {}) {
  for (const wrapper of root.querySelectorAll('.bk-input')) {
    const message = errors[wrapper.dataset.blockId];
    const slot = wrapper.querySelector('.bk-error');
    slot.textContent = message ?? '';
    slot.hidden = !message;
    wrapper.querySelector('[data-action-id]')?.toggleAttribute('aria-invalid', Boolean(message));
  }
}

/** Every input's current value, as values[block_id][action_id]. */
export function inputValues(root) {
  const values = {};
  for (const wrapper of root.querySelectorAll('.bk-input')) {
    const control = wrapper.querySelector('[data-action-id]');
    if (!control) continue;
    values[wrapper.dataset.blockId] ??= {};
    values[wrapper.dataset.blockId][control.dataset.actionId] = control.value;
  }
  return values;
}

/** Puts values (from inputValues) back, e.g. after the view was redrawn by an update. */
export function restoreInputValues(root, values) {
  for (const wrapper of root.querySelectorAll('.bk-input')) {
    const control = wrapper.querySelector('[data-action-id]');
    const value = control && values[wrapper.dataset.blockId]?.[control.dataset.actionId];
    if (typeof value === 'string') control.value = value;
  }
}

/** Errors for required inputs left empty; Slack's client refuses to submit those too. */
export function missingInputErrors(root) {
  const errors = {};
  for (const wrapper of root.querySelectorAll('.bk-input:not([data-optional])')) {
    const control = wrapper.querySelector('[data-action-id]');
    if (control && control.value.trim() === '')
      errors[wrapper.dataset.blockId] = 'Please fill out this field.';
  }
  return errors;
}

/** rich_text has no renderer here: its plain text stands in. */
function richText(elements, ctx) {
  let out = '';
  for (const element of Array.isArray(elements) ? elements : []) {
    switch (element?.type) {
      case 'text':
        out += element.text ?? '';
        break;
      case 'link':
        out += element.text ?? element.url ?? '';
        break;
      case 'user':
        out += `@${ctx?.lookup?.userName?.(element.user_id) ?? element.user_id}`;
        break;
      case 'channel':
        out += `#${ctx?.lookup?.channelName?.(element.channel_id) ?? element.channel_id}`;
        break;
      case 'emoji':
        out += emojify(`:${element.name}:`);
        break;
      case 'broadcast':
        out += `@${element.range}`;
        break;
      case 'rich_text_list':
        out += (element.elements ?? []).map((item) => `• ${richText(item.elements, ctx)}\n`).join('');
        break;
      case 'rich_text_section':
      case 'rich_text_preformatted':
      case 'rich_text_quote':
        out += `${richText(element.elements, ctx)}\n`;
        break;
      default:
        break;
    }
  }
  return out;
}
