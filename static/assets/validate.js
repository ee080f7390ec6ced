// Client-side checks of a note against the API's limits (the server checks again; its errors are shown too).

export const LIMITS = { titleMax: 200, bodyMaxBytes: 64 * 1024, tagsMax: 20, tagMax: 32 };

/** Length in Unicode characters (code points), not UTF-16 units. */
export function charLength(text) {
  return [...text].length;
}

export function byteLength(text) {
  return new TextEncoder().encode(text).length;
}

/** "a, b ,, a" → ["a", "b"]: comma-separated, trimmed, empty and duplicate tags dropped. */
export function parseTags(text) {
  const seen = new Set();
  for (const raw of String(text ?? '').split(',')) {
    const tag = raw.trim();
    if (tag) seen.add(tag);
  }
  return [...seen];
}

/** Returns { note: {title, body, tags}, errors: {title?, body?, tags?} } from the raw form values. */
export function validateNote({ title, body, tags }) {
  const note = { title: String(title ?? '').trim(), body: String(body ?? ''), tags: parseTags(tags) };
  const errors = {};
  const titleLen = charLength(note.title);
  if (titleLen === 0) errors.title = 'Enter a title.';
  else if (titleLen > LIMITS.titleMax) errors.title = `The title is ${titleLen} characters; the limit is ${LIMITS.titleMax}.`;

  const bytes = byteLength(note.body);
  if (bytes > LIMITS.bodyMaxBytes) {
    errors.body = `The text is ${Math.ceil(bytes / 1024)} KiB; the limit is 64 KiB.`;
  }

  if (note.tags.length > LIMITS.tagsMax) {
    errors.tags = `There are ${note.tags.length} tags; the limit is ${LIMITS.tagsMax}.`;
  } else {
    const long = note.tags.find((t) => charLength(t) > LIMITS.tagMax);
    if (long) errors.tags = `The tag "${[...long].slice(0, 40).join('')}…" is longer than ${LIMITS.tagMax} characters.`;
  }
  return { note, errors };
}
