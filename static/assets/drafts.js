// Local drafts of notes being edited: saved on this device (localStorage) as the user types, restored
// when the note is opened again, dropped when it is saved, discarded or deleted, and all dropped on
// sign-out. Keyed by user and note, so two people on one browser never see each other's drafts.

import { currentUser } from './auth.js';

const PREFIX = 'notes.draft.';

function key(noteId) {
  return `${PREFIX}${currentUser() ?? ''}.${noteId ?? 'new'}`;
}

/** The saved draft of a note (`null` for a new one): { title, body, tags, version, savedAt } or null. */
export function loadDraft(noteId) {
  try {
    const draft = JSON.parse(localStorage.getItem(key(noteId)) || 'null');
    return draft && typeof draft.title === 'string' ? draft : null;
  } catch {
    return null;
  }
}

export function saveDraft(noteId, fields) {
  try {
    localStorage.setItem(key(noteId), JSON.stringify({ ...fields, savedAt: new Date().toISOString() }));
  } catch {
    // Storage full or disabled: the unsaved-changes guard still protects the edit.
  }
}

export function dropDraft(noteId) {
  localStorage.removeItem(key(noteId));
}

/** Every draft of every user on this device (sign-out). */
export function dropAllDrafts() {
  for (const k of Object.keys(localStorage)) if (k.startsWith(PREFIX)) localStorage.removeItem(k);
}
