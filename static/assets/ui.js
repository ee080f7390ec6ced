// Small DOM helpers shared by the views: element builder, the page-wide live regions (for what
// concerns the whole app: the session), the inline status line each part of a view keeps next to
// its controls, the confirmation dialog, the unsaved-changes guard, date and size formatting.

/**
 * Builds an element. attrs: plain attributes, plus `class`, `text`, `dataset`, and `on<Event>` handlers.
 * Children may be nodes, strings, or arrays of them; null/false are skipped. Never uses innerHTML.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const errorEl = () => document.querySelector('[data-testid="error"]');
const noticeEl = () => document.querySelector('[data-testid="notice"]');
let noticeTimer = null;
let noticeAt = 0;

/** Shows an error in the alert region (read out at once by screen readers). */
export function showError(messageOrError) {
  const el = errorEl();
  const text = typeof messageOrError === 'string' ? messageOrError : messageOrError?.message || 'Something went wrong.';
  el.textContent = text;
  el.hidden = false;
}

export function clearError() {
  const el = errorEl();
  el.textContent = '';
  el.hidden = true;
}

/** Shows a short status message in the polite live region; it fades after a while. */
export function notify(text) {
  const el = noticeEl();
  el.textContent = text;
  el.hidden = false;
  noticeAt = Date.now();
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    el.hidden = true;
    el.textContent = '';
  }, 6000);
}

/** Hides a notice that is no longer fresh (called on navigation; a just-shown one stays). */
export function clearStaleNotice() {
  if (Date.now() - noticeAt < 1500) return;
  const el = noticeEl();
  el.hidden = true;
  el.textContent = '';
}

/**
 * A status line to place next to the controls it reports on: `say(text)` for progress and success
 * (polite live region), `fail(text | error)` for errors (an alert), `clear()`. Messages stay until the
 * next action replaces them.
 */
export function statusLine(testid) {
  const el = h('div', { class: 'inline-status', 'data-testid': testid });
  const polite = h('p', { role: 'status', 'aria-live': 'polite', class: 'inline-ok', 'data-testid': `${testid}-ok` });
  const alert = h('p', { role: 'alert', class: 'inline-error', 'data-testid': `${testid}-error` });
  el.append(polite, alert);
  const set = (node, text) => {
    node.textContent = text;
    node.classList.toggle('shown', Boolean(text));
  };
  return {
    el,
    say(text) {
      set(alert, '');
      set(polite, text);
    },
    fail(messageOrError) {
      set(polite, '');
      set(alert, typeof messageOrError === 'string' ? messageOrError : messageOrError?.message || 'Something went wrong.');
    },
    clear() {
      set(polite, '');
      set(alert, '');
    },
  };
}

// ---- unsaved changes -------------------------------------------------------------------------

let unsavedCheck = null; // () => boolean, set by the editor while it is shown

/** The editor registers how to tell whether it holds unsaved changes (null when it goes away). */
export function setUnsavedCheck(fn) {
  unsavedCheck = fn;
}

export function hasUnsavedChanges() {
  return Boolean(unsavedCheck?.());
}

/** Asks before unsaved changes are discarded; resolves true when it is fine to go on. */
export async function confirmDiscard() {
  if (!hasUnsavedChanges()) return true;
  return confirmDialog({
    title: 'Discard unsaved changes?',
    text: 'This note has changes that are not saved yet. A copy stays on this device as a draft, and comes back when you open the note again.',
    confirmLabel: 'Discard changes',
    cancelLabel: 'Keep editing',
  });
}

/** Opens the confirmation dialog; resolves true when the user confirms. Focus returns to the opener. */
export function confirmDialog({ title, text, confirmLabel = 'Delete', cancelLabel = 'Cancel' }) {
  const dialog = document.querySelector('[data-testid="confirm-dialog"]');
  const opener = document.activeElement;
  dialog.querySelector('#confirm-title').textContent = title;
  dialog.querySelector('#confirm-text').textContent = text;
  dialog.querySelector('[data-testid="confirm-ok"]').textContent = confirmLabel;
  dialog.querySelector('[data-testid="confirm-cancel"]').textContent = cancelLabel;
  dialog.returnValue = 'cancel';
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        if (opener && document.contains(opener)) opener.focus();
        resolve(dialog.returnValue === 'ok');
      },
      { once: true },
    );
    dialog.showModal();
    dialog.querySelector('[data-testid="confirm-cancel"]').focus();
  });
}

/** A <time> element showing a date-time in the user's locale. */
export function timeEl(iso) {
  const d = new Date(iso);
  const text = Number.isNaN(d.getTime()) ? String(iso ?? '') : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return h('time', { datetime: iso }, text);
}

export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Replaces the main region's content and moves focus to the new heading for screen-reader users. */
export function render(node, { focus = true } = {}) {
  const main = document.getElementById('main');
  main.replaceChildren(node);
  if (focus) {
    const heading = main.querySelector('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }
}

export function loading(label = 'Loading…') {
  return h('p', { class: 'loading', 'data-testid': 'loading', role: 'status' }, label);
}
