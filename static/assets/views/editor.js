// Note editor: create or edit a note (If-Match with its ETag; a 412 shows a conflict with a reload),
// delete with confirmation, and the note's attachments (upload with progress, download links, delete).

import * as api from '../api.js';
import { h, showError, clearError, notify, confirmDialog, timeEl, formatSize, loading } from '../ui.js';
import { validateNote, LIMITS } from '../validate.js';

/**
 * Mounts the editor into `pane`. id null means a new note.
 * hooks: { onSaved(note, created), onDeleted(id) }
 */
export async function mountEditor(pane, id, hooks) {
  let current = null; // { note, etag } of the version being edited
  // A later mount into the same pane (the user opened another note) wins over a slow earlier load.
  const ticket = String(Number(pane.dataset.ticket || 0) + 1);
  pane.dataset.ticket = ticket;
  if (id) {
    pane.replaceChildren(loading('Loading note…'));
    try {
      current = await api.getNote(id);
    } catch (err) {
      if (pane.dataset.ticket !== ticket) return;
      pane.replaceChildren(
        h('div', { class: 'empty', 'data-testid': 'note-error' },
          h('h2', {}, err.status === 404 ? 'Note not found' : 'Could not load the note'),
          h('p', {}, err.message),
          h('a', { href: '#/notes' }, 'Back to your notes')),
      );
      if (err.status !== 404) showError(err);
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
function renderForm(pane, current, hooks, focusOn = 'heading') {
  const note = current?.note;
  const isNew = !note;
  const title = h('input', { type: 'text', name: 'title', required: true, autocomplete: 'off', 'data-testid': 'note-title' });
  const body = h('textarea', { name: 'body', rows: 12, 'data-testid': 'note-body' });
  const tags = h('input', { type: 'text', name: 'tags', autocomplete: 'off', 'data-testid': 'note-tags' });
  title.value = note?.title ?? '';
  body.value = note?.body ?? '';
  tags.value = (note?.tags ?? []).join(', ');

  const saveButton = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'save-note' }, isNew ? 'Create note' : 'Save changes');
  const conflict = h('div', { class: 'conflict', role: 'alert', 'data-testid': 'conflict', hidden: true });

  const form = h('form', { class: 'note-form stack', novalidate: true, 'data-testid': 'note-form', 'aria-labelledby': 'editor-heading' },
    conflict,
    field('note-title', 'Title', title, `Required, up to ${LIMITS.titleMax} characters.`),
    field('note-body', 'Text', body, 'Up to 64 KiB.'),
    field('note-tags', 'Tags', tags, `Separate tags with commas; up to ${LIMITS.tagsMax} tags of up to ${LIMITS.tagMax} characters.`),
    h('div', { class: 'actions' },
      saveButton,
      !isNew && h('button', { type: 'button', class: 'button button-danger', 'data-testid': 'delete-note', onclick: onDelete }, 'Delete note'),
      h('a', { class: 'button button-quiet', href: '#/notes', 'data-testid': 'close-note' }, isNew ? 'Cancel' : 'Close')));

  form.addEventListener('submit', onSave);

  const heading = h('h2', { id: 'editor-heading', tabindex: -1, 'data-testid': 'editor-heading' }, isNew ? 'New note' : 'Edit note');
  const meta = note && h('p', { class: 'meta', 'data-testid': 'note-meta' },
    'Created ', timeEl(note.created_at), ' · updated ', timeEl(note.updated_at));
  const attachments = note ? attachmentsSection(note.id) : null;

  pane.replaceChildren(h('article', { class: 'editor', 'data-testid': 'editor', 'data-note-id': note?.id ?? '' }, heading, meta, form, attachments));
  if (isNew) title.focus();
  else if (focusOn === 'save') saveButton.focus();
  else heading.focus();

  async function onSave(event) {
    event.preventDefault();
    clearError();
    const { note: fields, errors } = validateNote({ title: title.value, body: body.value, tags: tags.value });
    for (const name of ['title', 'body', 'tags']) setFieldError(form, name, errors[name]);
    const firstInvalid = ['title', 'body', 'tags'].find((n) => errors[n]);
    if (firstInvalid) {
      form.querySelector(`#note-${firstInvalid}`).focus();
      return;
    }
    saveButton.disabled = true;
    saveButton.textContent = 'Saving…';
    try {
      const saved = isNew ? await api.createNote(fields) : await api.updateNote(note.id, fields, current.etag);
      notify(isNew ? 'Note created.' : 'Changes saved.');
      if (isNew) {
        hooks.onSaved(saved.note, true);
        return; // the route changes to the new note
      }
      current = saved;
      hooks.onSaved(saved.note, false);
      renderForm(pane, current, hooks, 'save');
    } catch (err) {
      saveButton.disabled = false;
      saveButton.textContent = isNew ? 'Create note' : 'Save changes';
      if (err.status === 412 || err.status === 409) showConflict();
      else showError(err);
    }
  }

  function showConflict() {
    conflict.replaceChildren(
      h('h3', {}, 'This note was changed elsewhere'),
      h('p', {}, 'Someone (maybe you, in another tab or device) saved a newer version of this note since you opened it. ' +
        'Your changes were not saved. Reload to get the latest version; copy any text you want to keep first.'),
      h('button', {
        type: 'button',
        class: 'button button-primary',
        'data-testid': 'reload-note',
        onclick: async () => {
          clearError();
          try {
            current = await api.getNote(note.id);
            renderForm(pane, current, hooks);
            notify('Loaded the latest version of the note.');
          } catch (err) {
            showError(err);
          }
        },
      }, 'Reload latest version'));
    conflict.hidden = false;
    conflict.querySelector('button').focus();
  }

  async function onDelete() {
    const ok = await confirmDialog({ title: 'Delete this note?', text: `“${note.title}” and its attachments will be deleted. This cannot be undone.`, confirmLabel: 'Delete note' });
    if (!ok) return;
    clearError();
    try {
      await api.deleteNote(note.id);
      notify('Note deleted.');
      hooks.onDeleted(note.id);
    } catch (err) {
      showError(err);
    }
  }
}

function attachmentsSection(noteId) {
  const list = h('ul', { class: 'attachments', 'data-testid': 'attachments-list' });
  const status = h('p', { class: 'hint', 'data-testid': 'attachments-status' }, 'Loading attachments…');
  const file = h('input', { type: 'file', id: 'attachment-file', name: 'file', 'data-testid': 'attachment-input' });
  const uploadButton = h('button', { type: 'submit', class: 'button', 'data-testid': 'upload-attachment' }, 'Upload');
  const progress = h('progress', { id: 'upload-progress', max: 100, value: 0, 'data-testid': 'upload-progress' });
  const progressText = h('span', { class: 'progress-text', 'aria-hidden': 'true' }, '0%');
  const progressLabel = h('label', { for: 'upload-progress' }, 'Uploading');
  const progressBox = h('div', { class: 'upload-progress', hidden: true }, progressLabel, progress, progressText);

  const form = h('form', { class: 'upload-form', 'data-testid': 'upload-form' },
    h('div', { class: 'field' }, h('label', { for: 'attachment-file' }, 'Add a file'), file),
    uploadButton,
    progressBox);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const chosen = file.files?.[0];
    if (!chosen) {
      showError('Choose a file to upload first.');
      file.focus();
      return;
    }
    uploadButton.disabled = true;
    file.disabled = true;
    progressLabel.textContent = `Uploading ${chosen.name}`;
    progress.value = 0;
    progressText.textContent = '0%';
    progressBox.hidden = false;
    try {
      await api.uploadAttachment(noteId, chosen, (fraction) => {
        const pct = Math.round(fraction * 100);
        progress.value = pct;
        progressText.textContent = `${pct}%`;
      });
      notify(`Uploaded ${chosen.name}.`);
      form.reset();
      await refresh();
    } catch (err) {
      showError(err);
    } finally {
      uploadButton.disabled = false;
      file.disabled = false;
      progressBox.hidden = true;
    }
  });

  async function refresh() {
    try {
      const items = await api.listAttachments(noteId);
      list.replaceChildren(...items.map(item));
      status.textContent = items.length ? '' : 'No attachments yet.';
      status.hidden = items.length > 0;
    } catch (err) {
      status.textContent = 'Could not load the attachments.';
      status.hidden = false;
      showError(err);
    }
  }

  function item(att) {
    return h('li', { 'data-testid': 'attachment-item', 'data-attachment-id': att.id },
      h('a', { href: att.download_url, download: att.filename, rel: 'noopener', 'data-testid': 'attachment-link' }, att.filename),
      h('span', { class: 'meta' }, `${formatSize(att.size)} · ${att.content_type}`),
      h('button', {
        type: 'button',
        class: 'button button-quiet button-small',
        'aria-label': `Delete attachment ${att.filename}`,
        'data-testid': 'delete-attachment',
        onclick: async () => {
          const ok = await confirmDialog({ title: 'Delete this attachment?', text: `“${att.filename}” will be deleted. This cannot be undone.`, confirmLabel: 'Delete attachment' });
          if (!ok) return;
          clearError();
          try {
            await api.deleteAttachment(noteId, att.id);
            notify(`Deleted ${att.filename}.`);
            await refresh();
            file.focus();
          } catch (err) {
            showError(err);
          }
        },
      }, 'Delete'));
  }

  refresh();
  return h('section', { class: 'attachments-section', 'aria-labelledby': 'attachments-heading', 'data-testid': 'attachments' },
    h('h3', { id: 'attachments-heading' }, 'Attachments'), status, list, form);
}
