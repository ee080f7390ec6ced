// Note editor: create or edit a note (If-Match with its ETag; a 412 shows a conflict with a reload),
// delete with confirmation, a close control at the top, unsaved changes kept as a local draft and
// guarded (see ui.js), its own status line next to the buttons, and the note's attachments (upload
// with progress, download links, delete).

import * as api from '../api.js';
import { h, confirmDialog, timeEl, formatSize, loading, statusLine, setUnsavedCheck } from '../ui.js';
import { validateNote, LIMITS } from '../validate.js';
import { loadDraft, saveDraft, dropDraft } from '../drafts.js';

/**
 * Mounts the editor into `pane`. id null means a new note.
 * hooks: { onSaved(note, created), onDeleted(id), onTag(tag) }
 */
export async function mountEditor(pane, id, hooks) {
  let current = null; // { note, etag } of the version being edited
  // A later mount into the same pane (the user opened another note) wins over a slow earlier load.
  const ticket = String(Number(pane.dataset.ticket || 0) + 1);
  pane.dataset.ticket = ticket;
  setUnsavedCheck(null);
  if (id) {
    pane.replaceChildren(loading('Loading note…'));
    try {
      current = await api.getNote(id);
    } catch (err) {
      if (pane.dataset.ticket !== ticket) return;
      pane.replaceChildren(
        h('div', { class: 'empty', 'data-testid': 'note-error' },
          h('h2', {}, err.status === 404 ? 'Note not found' : 'Could not load the note'),
          h('p', { role: 'alert' }, err.message),
          h('a', { href: '#/notes' }, 'Back to your notes')),
      );
      return;
    }
    if (pane.dataset.ticket !== ticket) return;
  }
  renderForm(pane, current, hooks);
}

function field(id, label, control, hint) {
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.id = id;
  control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint && h('p', { id: hintId, class: 'hint' }, hint),
    control,
    h('p', { id: errorId, class: 'field-error', 'data-testid': `${id}-error`, hidden: true }));
}

function setFieldError(form, name, message) {
  const control = form.querySelector(`#note-${name}`);
  const error = form.querySelector(`#note-${name}-error`);
  error.textContent = message ?? '';
  error.hidden = !message;
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

/** Renders the form; focusOn is 'heading' (just opened) or 'save' (just saved: stay where the user was). */
function renderForm(pane, current, hooks, focusOn = 'heading', said = '') {
  const note = current?.note;
  const isNew = !note;
  const noteId = note?.id ?? null;
  const title = h('input', { type: 'text', name: 'title', required: true, autocomplete: 'off', 'data-testid': 'note-title' });
  const body = h('textarea', { name: 'body', rows: 12, 'data-testid': 'note-body' });
  const tags = h('input', { type: 'text', name: 'tags', autocomplete: 'off', 'data-testid': 'note-tags' });
  const saved = { title: note?.title ?? '', body: note?.body ?? '', tags: (note?.tags ?? []).join(', ') };
  const values = () => ({ title: title.value, body: body.value, tags: tags.value });
  const dirty = () => {
    const v = values();
    return v.title !== saved.title || v.body !== saved.body || v.tags !== saved.tags;
  };
  Object.assign(title, { value: saved.title });
  Object.assign(body, { value: saved.body });
  Object.assign(tags, { value: saved.tags });

  const saveButton = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'save-note' }, isNew ? 'Create note' : 'Save changes');
  const conflict = h('div', { class: 'conflict', role: 'alert', 'data-testid': 'conflict', hidden: true });
  const status = statusLine('editor-status');
  const draftBox = h('div', { class: 'draft-notice', 'data-testid': 'draft-notice', hidden: true });

  const form = h('form', { class: 'note-form stack', novalidate: true, 'data-testid': 'note-form', 'aria-labelledby': 'editor-heading' },
    conflict,
    draftBox,
    field('note-title', 'Title', title, `Required, up to ${LIMITS.titleMax} characters.`),
    field('note-body', 'Text', body, 'Up to 64 KiB.'),
    field('note-tags', 'Tags', tags, `Separate tags with commas; up to ${LIMITS.tagsMax} tags of up to ${LIMITS.tagMax} characters.`),
    h('div', { class: 'actions' },
      saveButton,
      !isNew && h('button', { type: 'button', class: 'button button-danger', 'data-testid': 'delete-note', onclick: onDelete }, 'Delete note'),
      h('a', { class: 'button button-quiet', href: '#/notes', 'data-testid': 'close-note' }, isNew ? 'Cancel' : 'Close')),
    status.el);

  form.addEventListener('submit', onSave);
  let draftTimer = null;
  form.addEventListener('input', () => {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(() => {
      if (dirty()) saveDraft(noteId, { ...values(), version: note?.version ?? 0 });
      else dropDraft(noteId);
    }, 250);
  });
  setUnsavedCheck(() => document.contains(form) && dirty());

  const heading = h('h2', { id: 'editor-heading', tabindex: -1, 'data-testid': 'editor-heading' }, isNew ? 'New note' : 'Edit note');
  const closeTop = h('a', { class: 'button button-quiet close-top', href: '#/notes', 'data-testid': 'close-editor', 'aria-label': 'Close the editor' }, '✕');
  const meta = note && h('p', { class: 'meta', 'data-testid': 'note-meta' },
    'Created ', timeEl(note.created_at), ' · updated ', timeEl(note.updated_at));
  const noteTags = note?.tags?.length ? h('ul', { class: 'tags', 'aria-label': 'Show notes with a tag' }, note.tags.map((t) => h('li', {},
    h('button', { type: 'button', class: 'tag tag-button', 'aria-label': `Show notes tagged ${t}`, onclick: () => hooks.onTag?.(t) }, t)))) : null;
  const attachments = note ? attachmentsSection(note.id) : null;

  pane.replaceChildren(h('article', { class: 'editor', 'data-testid': 'editor', 'data-note-id': note?.id ?? '' },
    h('div', { class: 'editor-head' }, heading, closeTop), meta, noteTags, form, attachments));
  status.say(said);
  offerDraft();
  if (isNew) title.focus();
  else if (focusOn === 'save') saveButton.focus();
  else heading.focus();

  /** A draft left from an earlier visit comes back into the form, with a way to drop it. */
  function offerDraft() {
    const draft = loadDraft(noteId);
    if (!draft) return;
    const same = draft.title === saved.title && draft.body === saved.body && draft.tags === saved.tags;
    if (same) {
      dropDraft(noteId);
      return;
    }
    title.value = draft.title;
    body.value = draft.body ?? '';
    tags.value = draft.tags ?? '';
    const older = note && Number(draft.version) !== note.version;
    draftBox.replaceChildren(
      h('p', { role: 'status' }, 'Your unsaved changes from ', timeEl(draft.savedAt), ' are back. ',
        older ? 'The note was saved elsewhere since; check before you save. ' : '',
        'Save them, or '),
      h('button', { type: 'button', class: 'button', 'data-testid': 'discard-draft', onclick: () => {
        dropDraft(noteId);
        title.value = saved.title;
        body.value = saved.body;
        tags.value = saved.tags;
        draftBox.hidden = true;
        status.say('Draft discarded.');
      } }, 'Discard the draft'));
    draftBox.hidden = false;
  }

  async function onSave(event) {
    event.preventDefault();
    status.clear();
    const { note: fields, errors } = validateNote(values());
    for (const name of ['title', 'body', 'tags']) setFieldError(form, name, errors[name]);
    const firstInvalid = ['title', 'body', 'tags'].find((n) => errors[n]);
    if (firstInvalid) {
      form.querySelector(`#note-${firstInvalid}`).focus();
      return;
    }
    saveButton.disabled = true;
    saveButton.textContent = 'Saving…';
    status.say('Saving…');
    try {
      const result = isNew ? await api.createNote(fields) : await api.updateNote(note.id, fields, current.etag);
      dropDraft(noteId);
      if (isNew) {
        setUnsavedCheck(null);
        hooks.onSaved(result.note, true);
        return; // the route changes to the new note
      }
      current = result;
      hooks.onSaved(result.note, false);
      renderForm(pane, current, hooks, 'save', 'Changes saved.');
    } catch (err) {
      saveButton.disabled = false;
      saveButton.textContent = isNew ? 'Create note' : 'Save changes';
      if (err.status === 412 || err.status === 409) {
        status.clear();
        showConflict();
      } else status.fail(err);
    }
  }

  function showConflict() {
    conflict.replaceChildren(
      h('h3', {}, 'This note was changed elsewhere'),
      h('p', {}, 'Someone (maybe you, in another tab or device) saved a newer version of this note since you opened it. ' +
        'Your changes were not saved, and are kept on this device as a draft. Reload to get the latest version.'),
      h('button', {
        type: 'button',
        class: 'button button-primary',
        'data-testid': 'reload-note',
        onclick: async () => {
          try {
            const latest = await api.getNote(note.id);
            dropDraft(noteId);
            current = latest;
            renderForm(pane, current, hooks, 'heading', 'Loaded the latest version of the note.');
          } catch (err) {
            status.fail(err);
          }
        },
      }, 'Reload latest version'));
    conflict.hidden = false;
    conflict.querySelector('button').focus();
  }

  async function onDelete() {
    const ok = await confirmDialog({ title: 'Delete this note?', text: `“${note.title}” and its attachments will be deleted. This cannot be undone.`, confirmLabel: 'Delete note' });
    if (!ok) return;
    status.say('Deleting…');
    try {
      await api.deleteNote(note.id);
      dropDraft(noteId);
      setUnsavedCheck(null);
      hooks.onDeleted(note.id);
    } catch (err) {
      status.fail(err);
    }
  }
}

function attachmentsSection(noteId) {
  const list = h('ul', { class: 'attachments', 'data-testid': 'attachments-list' });
  const status = statusLine('attachments-status');
  const file = h('input', { type: 'file', id: 'attachment-file', name: 'file', 'data-testid': 'attachment-input' });
  const uploadButton = h('button', { type: 'submit', class: 'button', 'data-testid': 'upload-attachment' }, 'Upload');
  const progress = h('progress', { id: 'upload-progress', max: 100, value: 0, 'data-testid': 'upload-progress' });
  const progressText = h('span', { class: 'progress-text', 'aria-hidden': 'true' }, '0%');
  const progressLabel = h('label', { for: 'upload-progress' }, 'Uploading');
  const progressBox = h('div', { class: 'upload-progress', hidden: true }, progressLabel, progress, progressText);

  const form = h('form', { class: 'upload-form', 'data-testid': 'upload-form' },
    h('div', { class: 'field' }, h('label', { for: 'attachment-file' }, 'Add a file'), file),
    uploadButton,
    progressBox,
    status.el);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) {
      status.fail('Choose a file to upload first.');
      file.focus();
      return;
    }
    uploadButton.disabled = true;
    file.disabled = true;
    progressLabel.textContent = `Uploading ${chosen.name}`;
    progress.value = 0;
    progressText.textContent = '0%';
    progressBox.hidden = false;
    status.say(`Uploading ${chosen.name}…`);
    try {
      await api.uploadAttachment(noteId, chosen, (fraction) => {
        const pct = Math.round(fraction * 100);
        progress.value = pct;
        progressText.textContent = `${pct}%`;
      });
      status.say(`Uploaded ${chosen.name}.`);
      form.reset();
      await refresh();
    } catch (err) {
      status.fail(err);
    } finally {
      uploadButton.disabled = false;
      file.disabled = false;
      progressBox.hidden = true;
    }
  });

  const empty = h('p', { class: 'hint', 'data-testid': 'attachments-empty' }, 'Loading attachments…');
  async function refresh() {
    try {
      const items = await api.listAttachments(noteId);
      list.replaceChildren(...items.map(item));
      empty.textContent = items.length ? '' : 'No attachments yet.';
      empty.hidden = items.length > 0;
    } catch (err) {
      empty.textContent = 'Could not load the attachments.';
      empty.hidden = false;
      status.fail(err);
    }
  }

  function item(att) {
    const ready = att.state !== 'pending' && att.download_url;
    return h('li', { 'data-testid': 'attachment-item', 'data-attachment-id': att.id, 'data-state': att.state ?? 'ready' },
      ready
        ? h('a', { href: att.download_url, download: att.filename, rel: 'noopener', 'data-testid': 'attachment-link' }, att.filename)
        : h('span', { class: 'attachment-pending' }, att.filename, ' ', h('em', {}, '(upload not finished)')),
      h('span', { class: 'meta' }, `${formatSize(att.size)} · ${att.content_type}`),
      h('button', {
        type: 'button',
        class: 'button button-quiet button-small',
        'aria-label': `Delete attachment ${att.filename}`,
        'data-testid': 'delete-attachment',
        onclick: async () => {
          const ok = await confirmDialog({ title: 'Delete this attachment?', text: `“${att.filename}” will be deleted. This cannot be undone.`, confirmLabel: 'Delete attachment' });
          if (!ok) return;
          try {
            await api.deleteAttachment(noteId, att.id);
            status.say(`Deleted ${att.filename}.`);
            await refresh();
            file.focus();
          } catch (err) {
            status.fail(err);
          }
        },
      }, 'Delete'));
  }

  refresh();
  return h('section', { class: 'attachments-section', 'aria-labelledby': 'attachments-heading', 'data-testid': 'attachments' },
    h('h3', { id: 'attachments-heading' }, 'Attachments'), empty, list, form);
}
