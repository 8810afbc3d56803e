/** Small DOM helpers shared by the console's modules. */

/**
 * Creates an element. `props`: `class`, `text` (textContent), `html` (only ever HTML this page
 * produced by escaping, e.g. mrkdwnToHtml), `on<event>` listeners, other keys as attributes
 * (true = present, false/null/undefined = absent). Children: nodes or strings (as text).
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'html') node.innerHTML = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

let lastId = 0;
/** A page-unique id, for label/aria references. */
export function uid(prefix = 'c') {
  lastId += 1;
  return `${prefix}${lastId}`;
}

/**
 * Makes everything in <body> except `keep` inert and hidden from assistive technology (and
 * so from role queries) while a dialog is open. Elements marked `data-stay-visible` (the
 * error banner) stay reachable. Returns the undo; it only touches what it changed, so
 * stacked dialogs undo in any order.
 */
export function hideOthers(keep) {
  const changed = [];
  for (const child of document.body.children) {
    if (child === keep || child.inert || child.hasAttribute('data-stay-visible')) continue;
    child.inert = true;
    child.setAttribute('aria-hidden', 'true');
    changed.push(child);
  }
  return () => {
    for (const child of changed) {
      child.inert = false;
      child.removeAttribute('aria-hidden');
    }
  };
}
