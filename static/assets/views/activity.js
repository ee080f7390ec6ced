// Activity screen: the user's recent events (filled asynchronously from the notes stream), paged.

import * as api from '../api.js';
import { h, render, timeEl, loading, statusLine } from '../ui.js';

const KINDS = {
  note_created: 'Created note',
  note_updated: 'Edited note',
  note_deleted: 'Deleted note',
  attachment_added: 'Added attachment to',
  attachment_created: 'Added attachment to',
  attachment_deleted: 'Removed attachment from',
};

function kindLabel(kind) {
  if (KINDS[kind]) return KINDS[kind];
  const words = String(kind ?? 'event').replace(/[._-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export async function showActivity() {
  let items = [];
  let cursor = null;
  const ol = h('ol', { class: 'activity-list', 'data-testid': 'activity-list', 'aria-labelledby': 'activity-heading' });
  const status = h('div', { class: 'list-status', 'data-testid': 'activity-status' });
  const more = h('button', { type: 'button', class: 'button', 'data-testid': 'load-more-activity', hidden: true, onclick: () => load(false) }, 'Load more');
  const refresh = h('button', { type: 'button', class: 'button', 'data-testid': 'refresh-activity', onclick: () => load(true) }, 'Refresh');
  const live = statusLine('activity-live');

  render(h('section', { class: 'panel', 'aria-labelledby': 'activity-heading' },
    h('div', { class: 'pane-head' }, h('h1', { id: 'activity-heading' }, 'Activity'), refresh),
    h('p', { class: 'hint' }, 'Your recent changes. New entries can take a few seconds to appear.'),
    live.el, status, ol, more));

  async function load(first) {
    live.clear();
    (first ? refresh : more).disabled = true;
    if (first) status.replaceChildren(loading('Loading activity…'));
    try {
      const page = await api.listActivity(first ? null : cursor, 20);
      items = first ? page?.items ?? [] : items.concat(page?.items ?? []);
      cursor = page?.next_cursor ?? null;
      ol.replaceChildren(...items.map(entry));
      status.replaceChildren(items.length ? '' : h('p', { class: 'empty', 'data-testid': 'activity-empty' }, 'No activity yet.'));
      more.hidden = !cursor;
    } catch (err) {
      status.replaceChildren(h('p', { class: 'empty' }, 'Could not load the activity.'));
      live.fail(err);
    } finally {
      refresh.disabled = false;
      more.disabled = false;
    }
  }

  await load(true);
}

function entry(e) {
  const deleted = /deleted|removed/.test(String(e.kind)) && !/attachment/.test(String(e.kind));
  const label = e.title || 'a note';
  const target = e.note_id && !deleted ? h('a', { href: `#/notes/${encodeURIComponent(e.note_id)}` }, label) : h('span', {}, label);
  return h('li', { 'data-testid': 'activity-item', 'data-kind': e.kind, 'data-note-id': e.note_id ?? '' },
    h('span', { class: 'activity-kind' }, kindLabel(e.kind)), ' ', target,
    h('span', { class: 'meta' }, timeEl(e.at)));
}
