// Unit tests (Node only, no browser) of the front end's pure modules: note validation against the API limits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateNote, parseTags, charLength, LIMITS } from '../../static/assets/validate.js';

test('tags are comma-separated, trimmed, de-duplicated', () => {
  assert.deepEqual(parseTags(' home, todo ,, home ,'), ['home', 'todo']);
  assert.deepEqual(parseTags(''), []);
});

test('a valid note passes and is normalised', () => {
  const { note, errors } = validateNote({ title: '  Hello  ', body: 'text', tags: 'a, b' });
  assert.deepEqual(errors, {});
  assert.deepEqual(note, { title: 'Hello', body: 'text', tags: ['a', 'b'] });
});

test('title: 1 to 200 characters, counted as code points', () => {
  assert.ok(validateNote({ title: '   ', body: '', tags: '' }).errors.title);
  assert.deepEqual(validateNote({ title: '😀'.repeat(200), body: '', tags: '' }).errors, {});
  assert.equal(charLength('😀'), 1);
  assert.ok(validateNote({ title: 'x'.repeat(201), body: '', tags: '' }).errors.title);
});

test('body: at most 64 KiB of UTF-8', () => {
  assert.deepEqual(validateNote({ title: 't', body: 'x'.repeat(LIMITS.bodyMaxBytes), tags: '' }).errors, {});
  assert.ok(validateNote({ title: 't', body: 'x'.repeat(LIMITS.bodyMaxBytes + 1), tags: '' }).errors.body);
  assert.ok(validateNote({ title: 't', body: 'é'.repeat(LIMITS.bodyMaxBytes / 2 + 1), tags: '' }).errors.body);
});

test('tags: at most 20, each at most 32 characters', () => {
  const twenty = Array.from({ length: 20 }, (_, i) => `t${i}`).join(',');
  assert.deepEqual(validateNote({ title: 't', body: '', tags: twenty }).errors, {});
  assert.ok(validateNote({ title: 't', body: '', tags: `${twenty},t20` }).errors.tags);
  assert.deepEqual(validateNote({ title: 't', body: '', tags: 'x'.repeat(32) }).errors, {});
  assert.ok(validateNote({ title: 't', body: '', tags: 'x'.repeat(33) }).errors.tags);
});

test('API errors become sentences a person understands, never the raw API message', async () => {
  const { describe } = await import('../../static/assets/messages.js');
  const raw = [
    [400, 'invalid', 'size: must be 1 to 26214400 bytes', /25 MB/],
    [400, 'invalid', 'title: must contain a visible character', /title/],
    [404, 'not_found', 'no such resource', /no longer exists/],
    [412, 'precondition_failed', 'If-Match does not match the note', /changed elsewhere/],
    [409, 'limit_reached', 'at most 50 attachments per note', /50/],
    [503, 'unavailable', 'a backing service is unavailable, retry later', /try again/],
    [0, 'network', '', /connection/],
    [418, 'teapot', 'I am a teapot', /did not work/],
  ];
  for (const [status, code, message, expected] of raw) {
    const text = describe(status, code, message);
    assert.match(text, expected, `${code}: ${text}`);
    if (message) assert.ok(!text.includes(message), `${code}: the raw message leaked: ${text}`);
  }
});
