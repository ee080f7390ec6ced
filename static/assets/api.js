// API client: JSON calls to `${apiUrl}/v1` with the ID token, the API's error JSON turned into ApiError,
// ETag/If-Match handling for notes, and attachment uploads to presigned URLs with progress.

import { idToken } from './auth.js';
import { describe } from './messages.js';

let base = '';
let onUnauthorized = () => {};

/** An error to show the user: status, the API's error code, a sentence for people (`message`) and
 * the API's own message (`detail`, for developers only). */
export class ApiError extends Error {
  constructor(status, code, detail = '', retryAfter = null) {
    super(describe(status, code, detail));
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

/** Sets the API base URL and what to do when the API answers 401 (back to sign-in). */
export function configureApi(apiUrl, unauthorized) {
  base = `${apiUrl}/v1`;
  onUnauthorized = unauthorized;
}

async function toError(res) {
  const body = await res.json().catch(() => null);
  const code = body?.error?.code || `http_${res.status}`;
  return new ApiError(res.status, code, body?.error?.message || '', res.headers.get('Retry-After'));
}

/**
 * Calls the API. Returns { data, etag, status }. Throws ApiError on a non-2xx answer or a network failure.
 * options: { method, body (JSON-encoded), ifMatch, query }
 */
export async function request(path, { method = 'GET', body, ifMatch, query } = {}) {
  const token = await idToken();
  if (!token) {
    onUnauthorized();
    throw new ApiError(401, 'unauthorized');
  }
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (ifMatch) headers['If-Match'] = ifMatch;

  let url = `${base}${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    if ([...q].length) url += `?${q}`;
  }

  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network');
  }
  if (res.status === 401) {
    onUnauthorized();
    throw new ApiError(401, 'unauthorized');
  }
  if (!res.ok) throw await toError(res);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  return { data, etag: res.headers.get('ETag'), status: res.status };
}

/** The ETag to send back in If-Match: the header if CORS exposes it, else one built from the version. */
function etagOf(etag, note) {
  return etag || (note && note.version !== undefined ? `"${note.version}"` : null);
}

/** A page of notes: `sort` 'updated' (recent first) or 'created'; `q` words to find; `tag` one tag. */
export async function listNotes({ cursor, limit = 20, q, tag, sort = 'updated' } = {}) {
  return (await request('/notes', { query: { limit, cursor, q, tag, sort } })).data;
}

export async function getNote(id) {
  const { data, etag } = await request(`/notes/${encodeURIComponent(id)}`);
  return { note: data, etag: etagOf(etag, data) };
}

export async function createNote(fields) {
  const { data, etag } = await request('/notes', { method: 'POST', body: fields });
  return { note: data, etag: etagOf(etag, data) };
}

export async function updateNote(id, fields, etag) {
  const res = await request(`/notes/${encodeURIComponent(id)}`, { method: 'PUT', body: fields, ifMatch: etag });
  if (res.data?.id) return { note: res.data, etag: etagOf(res.etag, res.data) };
  return getNote(id); // the API answered without the note: fetch it for the new version
}

export async function deleteNote(id) {
  await request(`/notes/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

export async function listAttachments(noteId) {
  return (await request(`/notes/${encodeURIComponent(noteId)}/attachments`)).data?.items ?? [];
}

export async function deleteAttachment(noteId, attachmentId) {
  const path = `/notes/${encodeURIComponent(noteId)}/attachments/${encodeURIComponent(attachmentId)}`;
  await request(path, { method: 'DELETE' });
}

/**
 * Declares an attachment to the API, then PUTs the file to the presigned upload_url with the declared
 * Content-Type. onProgress(fraction 0..1) is called as bytes go out. Resolves with the API's attachment.
 */
export async function uploadAttachment(noteId, file, onProgress = () => {}) {
  const contentType = file.type || 'application/octet-stream';
  const { data } = await request(`/notes/${encodeURIComponent(noteId)}/attachments`, {
    method: 'POST',
    body: { filename: file.name, content_type: contentType, size: file.size },
  });
  if (!data?.upload_url) throw new ApiError(0, 'bad_response', 'no upload_url');

  try {
    await putFile(data.upload_url, file, contentType, onProgress);
  } catch (err) {
    // The bytes did not arrive: remove the declared attachment so no empty entry is left (best effort;
    // the API also hides and deletes pending attachments once their upload address expires).
    if (data.id) await deleteAttachment(noteId, data.id).catch(() => {});
    throw err;
  }
  // Tell the API the bytes are there (it checks with one HEAD): the attachment becomes ready.
  const path = `/notes/${encodeURIComponent(noteId)}/attachments/${encodeURIComponent(data.id)}/confirm`;
  return (await request(path, { method: 'POST' })).data;
}

function putFile(url, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(new ApiError(xhr.status, 'upload_failed', `storage answered ${xhr.status}`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'storage unreachable'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted'));
    xhr.send(file);
  });
}

export async function listActivity(cursor, limit = 20) {
  return (await request('/activity', { query: { limit, cursor } })).data;
}

export async function getStats() {
  return (await request('/stats')).data;
}
