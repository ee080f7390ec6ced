// Notes screen: the user's notes (recently updated first, or recently created; a search box and a tag
// filter, both answered by the API) beside the editor of the selected (or a new) note.

import * as api from '../api.js';
import { h, render, timeEl, loading, statusLine } from '../ui.js';
import { mountEditor } from './editor.js';

const PAGE = 20;
const SEARCH_DELAY_MS = 300;
// What the list shows; kept while the screen is away (switching to Activity and back).
const filters = { q: '', tag: '', sort: 'updated' };
let list = null; // { root, items, nextCursor, ul, status, more, search, sort, tagBox, serial } while shown

/** Shows the notes screen; selected is a note id, 'new', or null. */
export async function showNotes(selected) {
  const fresh = !list || !document.contains(list.root);
  if (fresh) mount();
  list.root.classList.toggle('has-selection', Boolean(selected));
  markSelected(selected);

  const pane = list.root.querySelector('[data-testid="note-pane"]');
  if (!selected) {
    pane.replaceChildren(h('div', { class: 'empty placeholder' },
      h('h2', {}, 'No note open'),
      h('p', {}, 'Choose a note from the list, or write a new one.')));
    // The editor that held focus is gone (closed or deleted): put focus back at the list.
    if (!fresh && (document.activeElement === document.body || !document.activeElement)) {
      const heading = list.root.querySelector('#notes-heading');
      heading.tabIndex = -1;
      heading.focus();
    }
  } else {
    mountEditor(pane, selected === 'new' ? null : selected, {
      onSaved: (note, created) => {
        reload();
        if (created) location.hash = `#/notes/${encodeURIComponent(note.id)}`;
      },
      onDeleted: () => {
        reload();
        location.hash = '#/notes';
      },
      onTag: (tag) => setTag(tag),
    });
  }
  if (fresh) await reload();
}

function mount() {
  const ul = h('ul', { class: 'note-list', 'data-testid': 'notes-list', 'aria-labelledby': 'notes-heading' });
  const status = h('div', { class: 'list-status', 'data-testid': 'notes-status' });
  const more = h('button', { type: 'button', class: 'button', 'data-testid': 'load-more', hidden: true, onclick: loadMore }, 'Load more notes');
  const search = h('input', {
    type: 'search', id: 'note-search', name: 'q', autocomplete: 'off', maxlength: 200,
    placeholder: 'Words in a title or text', 'data-testid': 'search',
  });
  search.value = filters.q;
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      filters.q = search.value.trim();
      reload();
    }, SEARCH_DELAY_MS);
  });
  const sort = h('select', { id: 'note-sort', name: 'sort', 'data-testid': 'sort' },
    h('option', { value: 'updated' }, 'Recently updated'),
    h('option', { value: 'created' }, 'Recently created'));
  sort.value = filters.sort;
  sort.addEventListener('change', () => {
    filters.sort = sort.value;
    reload();
  });
  const tagBox = h('div', { class: 'tag-filter', 'data-testid': 'tag-filter' });
  const form = h('form', { class: 'list-tools', role: 'search', 'aria-label': 'Find notes', onsubmit: (e) => {
    e.preventDefault();
    clearTimeout(timer);
    filters.q = search.value.trim();
    reload();
  } },
  h('div', { class: 'field' }, h('label', { for: 'note-search' }, 'Search'), search),
  h('div', { class: 'field' }, h('label', { for: 'note-sort' }, 'Order'), sort),
  tagBox);
  const live = statusLine('notes-live');
  const root = h('div', { class: 'notes-layout' },
    h('section', { class: 'notes-list-pane', 'aria-labelledby': 'notes-heading' },
      h('div', { class: 'pane-head' },
        h('h1', { id: 'notes-heading' }, 'Your notes'),
        h('a', { class: 'button button-primary', href: '#/notes/new', 'data-testid': 'new-note' }, 'New note')),
      form, live.el, status, ul, more),
    h('section', { class: 'note-pane', 'aria-label': 'Selected note', 'data-testid': 'note-pane' }));
  list = { root, items: [], nextCursor: null, ul, status, more, search, sort, tagBox, live, serial: 0 };
  drawTagFilter();
  render(root);
}

/** Shows only notes with `tag` ('' for all). */
function setTag(tag) {
  filters.tag = tag;
  if (!list) return;
  drawTagFilter();
  if (location.hash.startsWith('#/notes/')) location.hash = '#/notes';
  reload();
}

function drawTagFilter() {
  if (!filters.tag) {
    list.tagBox.replaceChildren();
    return;
  }
  list.tagBox.replaceChildren(
    h('span', { class: 'meta' }, 'Tag: ', h('strong', { class: 'tag-name' }, filters.tag)),
    h('button', {
      type: 'button', class: 'button button-quiet', 'data-testid': 'clear-tag',
      'aria-label': `Show all notes, not only those tagged ${filters.tag}`,
      onclick: () => setTag(''),
    }, 'Show all'));
}

function query(cursor) {
  return { cursor, limit: PAGE, q: filters.q || undefined, tag: filters.tag || undefined, sort: filters.sort };
}

/** Reloads the first page (after a write the list's order may change). */
async function reload() {
  if (!list) return;
  const l = list;
  const serial = ++l.serial; // a later reload wins over a slow earlier one
  l.status.replaceChildren(loading('Loading notes…'));
  try {
    const page = await api.listNotes(query(null));
    if (serial !== l.serial) return;
    l.items = page?.items ?? [];
    l.nextCursor = page?.next_cursor ?? null;
    draw(l);
    const filtered = filters.q || filters.tag;
    l.live.say(filtered ? `${l.items.length}${l.nextCursor ? '+' : ''} matching note${l.items.length === 1 ? '' : 's'}.` : '');
  } catch (err) {
    if (serial !== l.serial) return;
    l.status.replaceChildren(h('p', { class: 'empty' }, 'Could not load your notes. ',
      h('button', { type: 'button', class: 'button button-small', onclick: reload }, 'Try again')));
    l.live.fail(err);
  }
}

async function loadMore() {
  const l = list;
  l.more.disabled = true;
  l.more.textContent = 'Loading…';
  try {
    const page = await api.listNotes(query(l.nextCursor));
    const known = new Set(l.items.map((n) => n.id));
    l.items.push(...(page?.items ?? []).filter((n) => !known.has(n.id)));
    l.nextCursor = page?.next_cursor ?? null;
    draw(l);
  } catch (err) {
    l.live.fail(err);
  } finally {
    l.more.disabled = false;
    l.more.textContent = 'Load more notes';
  }
}

function draw(l) {
  const order = filters.sort === 'created' ? 'Created ' : 'Updated ';
  l.ul.replaceChildren(...l.items.map((note) => h('li', { 'data-testid': 'note-item', 'data-note-id': note.id },
    h('a', { href: `#/notes/${encodeURIComponent(note.id)}`, class: 'note-link' },
      h('span', { class: 'note-title', 'data-testid': 'note-item-title' }, note.title),
      h('span', { class: 'meta' }, order, timeEl(filters.sort === 'created' ? note.created_at : note.updated_at))),
    note.tags?.length ? h('ul', { class: 'tags' }, note.tags.map((t) => h('li', {},
      h('button', {
        type: 'button', class: 'tag tag-button', 'data-testid': 'tag',
        'aria-label': `Show notes tagged ${t}`, 'aria-pressed': String(filters.tag === t),
        onclick: () => setTag(filters.tag === t ? '' : t),
      }, t)))) : null)));
  const filtered = filters.q || filters.tag;
  l.status.replaceChildren(l.items.length ? '' : filtered
    ? h('div', { class: 'empty', 'data-testid': 'notes-none-match' }, h('p', {}, 'No notes match.'))
    : h('div', { class: 'empty', 'data-testid': 'notes-empty' },
      h('p', {}, 'You have no notes yet.'),
      h('p', {}, h('a', { href: '#/notes/new' }, 'Write your first note'))));
  l.more.hidden = !l.nextCursor;
  markSelected(currentSelection());
}

function currentSelection() {
  const m = location.hash.match(/^#\/notes\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}

function markSelected(selected) {
  for (const li of list.ul.children) {
    const link = li.querySelector('a');
    if (li.dataset.noteId === selected) link.setAttribute('aria-current', 'true');
    else link.removeAttribute('aria-current');
  }
}
