// Notes screen: the paged list of the user's notes beside the editor of the selected (or a new) note.

import * as api from '../api.js';
import { h, render, showError, timeEl, loading } from '../ui.js';
import { mountEditor } from './editor.js';

const PAGE = 20;
let list = null; // { root, items, nextCursor, ul, status, more } while the notes screen is shown

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
    });
  }
  if (fresh) await reload();
}

function mount() {
  const ul = h('ul', { class: 'note-list', 'data-testid': 'notes-list', 'aria-labelledby': 'notes-heading' });
  const status = h('div', { class: 'list-status', 'data-testid': 'notes-status' });
  const more = h('button', { type: 'button', class: 'button', 'data-testid': 'load-more', hidden: true, onclick: loadMore }, 'Load more notes');
  const root = h('div', { class: 'notes-layout' },
    h('section', { class: 'notes-list-pane', 'aria-labelledby': 'notes-heading' },
      h('div', { class: 'pane-head' },
        h('h1', { id: 'notes-heading' }, 'Your notes'),
        h('a', { class: 'button button-primary', href: '#/notes/new', 'data-testid': 'new-note' }, 'New note')),
      status, ul, more),
    h('section', { class: 'note-pane', 'aria-label': 'Selected note', 'data-testid': 'note-pane' }));
  list = { root, items: [], nextCursor: null, ul, status, more };
  render(root);
}

/** Reloads the first page (after a write, the new state is at the top: the API lists newest first). */
async function reload() {
  if (!list) return;
  const l = list;
  l.status.replaceChildren(loading('Loading notes…'));
  try {
    const page = await api.listNotes(null, PAGE);
    l.items = page?.items ?? [];
    l.nextCursor = page?.next_cursor ?? null;
    draw(l);
  } catch (err) {
    l.status.replaceChildren(h('p', { class: 'empty' }, 'Could not load your notes. ',
      h('button', { type: 'button', class: 'button button-small', onclick: reload }, 'Try again')));
    showError(err);
  }
}

async function loadMore() {
  const l = list;
  l.more.disabled = true;
  l.more.textContent = 'Loading…';
  try {
    const page = await api.listNotes(l.nextCursor, PAGE);
    const known = new Set(l.items.map((n) => n.id));
    l.items.push(...(page?.items ?? []).filter((n) => !known.has(n.id)));
    l.nextCursor = page?.next_cursor ?? null;
    draw(l);
  } catch (err) {
    showError(err);
  } finally {
    l.more.disabled = false;
    l.more.textContent = 'Load more notes';
  }
}

function draw(l) {
  l.ul.replaceChildren(...l.items.map((note) => h('li', { 'data-testid': 'note-item', 'data-note-id': note.id },
    h('a', { href: `#/notes/${encodeURIComponent(note.id)}`, class: 'note-link' },
      h('span', { class: 'note-title', 'data-testid': 'note-item-title' }, note.title),
      h('span', { class: 'meta' }, 'Updated ', timeEl(note.updated_at))),
    note.tags?.length ? h('ul', { class: 'tags' }, note.tags.map((t) => h('li', { class: 'tag' }, t))) : null)));
  l.status.replaceChildren(l.items.length ? '' : h('div', { class: 'empty', 'data-testid': 'notes-empty' },
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
