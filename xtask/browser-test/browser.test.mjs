// Browser test of the notes web app: headless Debian Chromium driven by playwright-core against a running
// site + API (`cargo xtask dev`). Two users (alice, bob) in separate browser contexts; notes are created,
// edited and deleted; search, the tag filter and recent-first order are used; unsaved edits are guarded and
// come back as a draft; a second tab is signed in without signing in again, and its save makes the first
// tab's save a 412 conflict; an attachment is uploaded and downloaded under its own name; activity and stats
// are checked; bob must never see alice's notes. At 390 px every view is screenshotted and must not scroll
// sideways, with touch targets of at least 44 px; axe-core finds no serious or critical violation on any
// view. Saves a screenshot of the main screen (and target/browser/mobile-*.png).
//
// Env: SITE_URL (default http://127.0.0.1:8080/), API_URL (default http://127.0.0.1:8081),
//      SCREENSHOT (default <repo>/target/browser/main.png), CHROMIUM (default /usr/bin/chromium),
//      ACTIVITY_TIMEOUT_MS (default 30000), SERVER_WAIT_MS (default 60000).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = await fs.readFile(require.resolve('axe-core/axe.min.js'), 'utf8');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const SITE_URL = new URL(process.env.SITE_URL || 'http://127.0.0.1:8080/').href;
const API_URL = (process.env.API_URL || 'http://127.0.0.1:8081').replace(/\/+$/, '');
const SCREENSHOT = path.resolve(process.env.SCREENSHOT ? process.cwd() : REPO, process.env.SCREENSHOT || 'target/browser/main.png');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ACTIVITY_TIMEOUT_MS = Number(process.env.ACTIVITY_TIMEOUT_MS || 30_000);
const SERVER_WAIT_MS = Number(process.env.SERVER_WAIT_MS || 60_000);
const STEP = { timeout: 90_000 };

const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`; // marks this run's notes
const SHOTS = path.dirname(SCREENSHOT);
const title = (s) => `${s} ${RUN}`;

let browser;
let alice; // { context, page }
let bob;
const problems = []; // page errors and CSP violations seen on any page
const ids = {}; // note ids by name

// ---------- helpers ----------

async function waitUntil(what, fn, timeoutMs, intervalMs = 500) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function watch(page, who) {
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => problems.push(`${who}: page error: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    // 4xx answers the test provokes on purpose (412, 404) are logged by Chromium as "Failed to load resource".
    if (msg.type() === 'error' && !text.startsWith('Failed to load resource')) problems.push(`${who}: console error: ${text}`);
  });
  return page;
}

async function newUser(name, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport });
  const page = watch(await context.newPage(), name);
  await signIn(page, name);
  return { context, page, name };
}

/** axe-core on the page as it is: the serious and critical violations, as "rule: target" lines. */
async function axe(page, view) {
  await page.evaluate(AXE_SOURCE); // through the DevTools protocol: the page's CSP does not apply to it
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${view}: ${v.id} (${v.impact}) at ${n.target.join(' ')}: ${v.help}`));
}

/** The page does not scroll sideways; returns its width and the window's. */
async function widths(page) {
  return page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth }));
}

/** Visible controls smaller than 44 px in either direction (inline text links excepted, as in WCAG 2.5.8). */
async function smallTargets(page) {
  return page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('button, .button, input, select, textarea, nav a, [data-testid="tag"]')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      if (r.height < 44 || r.width < 44) out.push(`${el.tagName.toLowerCase()}[${el.dataset.testid ?? el.textContent.trim().slice(0, 20)}] ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
    return out;
  });
}

async function signIn(page, name, hash = '') {
  await page.goto(new URL(hash, SITE_URL).href);
  await page.getByLabel('User name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('current-user').filter({ hasText: name }).waitFor();
}

async function openNote(page, id) {
  await page.goto(new URL(`#/notes/${id}`, SITE_URL).href);
  await page.locator(`[data-testid="editor"][data-note-id="${id}"]`).waitFor();
}

async function createNote(page, { name, body = '', tags = '' }) {
  await page.getByTestId('nav').getByRole('link', { name: 'Notes' }).click();
  await page.getByTestId('new-note').click();
  await page.getByLabel('Title', { exact: true }).fill(name);
  await page.getByLabel('Text', { exact: true }).fill(body);
  await page.getByLabel('Tags', { exact: true }).fill(tags);
  await page.getByTestId('save-note').click();
  const editor = page.locator('[data-testid="editor"]:not([data-note-id=""])');
  await editor.waitFor();
  await page.getByTestId('notes-list').getByText(name, { exact: true }).waitFor();
  return editor.getAttribute('data-note-id');
}

async function saveAndWait(page) {
  await page.getByTestId('save-note').click();
  await page.getByTestId('editor-status-ok').filter({ hasText: 'saved' }).waitFor();
}

async function listTitles(page) {
  await page.goto(new URL('#/notes', SITE_URL).href);
  await page.reload();
  await page.locator('[data-testid="notes-list"], [data-testid="notes-empty"]').first().waitFor();
  await page.getByTestId('loading').waitFor({ state: 'detached' });
  // Load every page so the check covers the whole list, not just the first 20.
  while (await page.getByTestId('load-more').isVisible()) {
    const before = await page.getByTestId('note-item').count();
    await page.getByTestId('load-more').click();
    await waitUntil('more notes', async () => (await page.getByTestId('note-item').count()) > before, 15_000, 200);
  }
  return page.getByTestId('note-item-title').allTextContents();
}

async function devToken(name) {
  const config = await (await fetch(new URL('/config.json', SITE_URL))).json();
  assert.equal(config.auth?.mode, 'dev', 'the site must be served in dev sign-in mode');
  const res = await fetch(config.auth.tokenUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: name }),
  });
  assert.equal(res.status, 200, 'dev token endpoint');
  return (await res.json()).id_token;
}

// ---------- setup ----------

before(async () => {
  // The servers may still be starting: wait (bounded) for the site's settings and the API's health.
  await waitUntil(`${SITE_URL}config.json`, async () => (await fetch(new URL('/config.json', SITE_URL))).ok, SERVER_WAIT_MS);
  await waitUntil(`${API_URL}/v1/health`, async () => (await fetch(`${API_URL}/v1/health`)).status < 500, SERVER_WAIT_MS);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  console.log(`# chromium ${browser.version()} · site ${SITE_URL} · api ${API_URL} · run ${RUN}`);
});

after(async () => {
  await browser?.close();
});

// ---------- the test, step by step (each step builds on the previous ones) ----------

test('the site serves the app with its settings', STEP, async () => {
  const res = await fetch(SITE_URL);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<script type="module" src="[^"]+\.js"><\/script>/, 'the entry module is referenced');
  assert.doesNotMatch(html, /<script\b(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
  assert.doesNotMatch(html, /\son[a-z]+\s*=|\sstyle\s*=|<style\b/i, 'no inline handler or style');
  const config = await (await fetch(new URL('/config.json', SITE_URL))).json();
  assert.equal(new URL(config.apiUrl || '/', SITE_URL).origin, new URL(API_URL).origin, 'config.json points at API_URL');
});

test('alice and bob sign in, each in their own browser context', STEP, async () => {
  alice = await newUser('alice');
  bob = await newUser('bob');
  assert.equal(await alice.page.getByTestId('current-user').textContent(), 'alice');
  assert.equal(await bob.page.getByTestId('current-user').textContent(), 'bob');
});

test('alice creates and edits notes', STEP, async () => {
  const p = alice.page;
  ids.groceries = await createNote(p, { name: title('Groceries'), body: 'milk\neggs', tags: 'home, shopping' });
  ids.draft = await createNote(p, { name: title('Draft to delete'), body: 'temporary' });
  assert.ok(ids.groceries && ids.draft && ids.groceries !== ids.draft);

  // Client-side validation: an empty title is refused with a message next to the field.
  await openNote(p, ids.groceries);
  await p.getByLabel('Title', { exact: true }).fill('   ');
  await p.getByTestId('save-note').click();
  await p.getByTestId('note-title-error').filter({ hasText: /title/i }).waitFor();

  // Edit: new title, body and tags; the list and a fresh load show the saved version.
  await p.getByLabel('Title', { exact: true }).fill(title('Groceries for Sunday'));
  await p.getByLabel('Text', { exact: true }).fill('milk\neggs\nbread');
  await p.getByLabel('Tags', { exact: true }).fill('home, shopping, weekend');
  await saveAndWait(p);
  // Said next to the button that did it, not at the top of the page.
  const near = await p.evaluate(() => {
    const status = document.querySelector('[data-testid="editor-status-ok"]').getBoundingClientRect();
    const save = document.querySelector('[data-testid="save-note"]').getBoundingClientRect();
    return Math.abs(status.top - save.bottom) < 120;
  });
  assert.ok(near, 'the "saved" message is next to the save button');
  await p.getByTestId('notes-list').getByText(title('Groceries for Sunday'), { exact: true }).waitFor();

  await p.reload(); // the session survives a reload (sessionStorage)
  await p.locator(`[data-testid="editor"][data-note-id="${ids.groceries}"]`).waitFor();
  assert.equal(await p.getByLabel('Title', { exact: true }).inputValue(), title('Groceries for Sunday'));
  assert.equal(await p.getByLabel('Text', { exact: true }).inputValue(), 'milk\neggs\nbread');
  assert.equal(await p.getByLabel('Tags', { exact: true }).inputValue(), 'home, shopping, weekend');
});

test('saving a stale version from a second tab shows a 412 conflict and offers reload', STEP, async () => {
  const first = alice.page;
  const second = watch(await alice.context.newPage(), 'alice-tab2');
  try {
    // A new tab asks the open ones for the session: no second sign-in.
    await second.goto(new URL(`#/notes/${ids.groceries}`, SITE_URL).href);
    await second.locator(`[data-testid="editor"][data-note-id="${ids.groceries}"]`).waitFor();
    assert.equal(await second.getByTestId('current-user').textContent(), 'alice');
    await openNote(first, ids.groceries);

    await second.getByLabel('Text', { exact: true }).fill('changed in the second tab');
    await saveAndWait(second);

    await first.getByLabel('Text', { exact: true }).fill('changed in the first tab, from a stale version');
    await first.getByTestId('save-note').click();
    const conflict = first.getByTestId('conflict');
    await conflict.waitFor();
    assert.match(await conflict.textContent(), /changed elsewhere/i);

    await first.getByTestId('reload-note').click();
    await first.getByTestId('conflict').waitFor({ state: 'hidden' });
    assert.equal(await first.getByLabel('Text', { exact: true }).inputValue(), 'changed in the second tab');

    // After the reload the first tab holds the current version and can save.
    await first.getByLabel('Text', { exact: true }).fill('milk\neggs\nbread\nbutter');
    await saveAndWait(first);
  } finally {
    await second.close();
  }
});

test('alice uploads an attachment and gets a working download link', STEP, async () => {
  const p = alice.page;
  await openNote(p, ids.groceries);
  const content = `receipt for run ${RUN}\n`.repeat(2000); // ~50 KB, so upload progress has something to show
  await p.getByLabel('Add a file', { exact: true }).setInputFiles({ name: 'receipt.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });
  await p.getByTestId('upload-attachment').click();
  const link = p.getByTestId('attachment-link').filter({ hasText: 'receipt.txt' });
  await link.waitFor();
  const href = await link.getAttribute('href');
  assert.ok(href, 'the attachment has a download URL');
  const res = await alice.context.request.get(new URL(href, SITE_URL).href);
  assert.equal(res.status(), 200, 'the download URL answers');
  assert.equal(await res.text(), content, 'the downloaded bytes are the uploaded ones');
  assert.match(res.headers()['content-disposition'] ?? '', /filename="receipt\.txt"/, 'saved under its own name');
  const download = p.waitForEvent('download');
  await link.click();
  assert.equal((await download).suggestedFilename(), 'receipt.txt', 'the browser saves it as receipt.txt');
  await p.getByTestId('attachments-status-ok').filter({ hasText: 'Uploaded receipt.txt' }).waitFor();
});

test('alice deletes a note after confirming', STEP, async () => {
  const p = alice.page;
  await openNote(p, ids.draft);
  const dialog = p.getByTestId('confirm-dialog');

  await p.getByTestId('delete-note').click();
  await dialog.waitFor();
  await p.getByTestId('confirm-cancel').click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await p.evaluate(() => document.activeElement?.dataset.testid), 'delete-note', 'focus returns to the button');
  await p.locator(`[data-testid="editor"][data-note-id="${ids.draft}"]`).waitFor();

  await p.getByTestId('delete-note').click();
  await dialog.waitFor();
  await p.getByTestId('confirm-ok').click();
  await p.locator(`[data-testid="note-item"][data-note-id="${ids.draft}"]`).waitFor({ state: 'detached' });
  const titles = await listTitles(p);
  assert.ok(!titles.includes(title('Draft to delete')), 'the deleted note is gone');
  assert.ok(titles.includes(title('Groceries for Sunday')), 'the other note is still there');
});

test('search, the tag filter and recent-first order', STEP, async () => {
  const p = alice.page;
  ids.older = await createNote(p, { name: title('Older plan'), body: `lisbon trip ${RUN}`, tags: `trip${RUN.slice(0, 6)}` });
  ids.newer = await createNote(p, { name: title('Newer idea'), body: 'an idea' });
  await p.goto(new URL('#/notes', SITE_URL).href);
  const mine = async () => (await p.getByTestId('note-item-title').allTextContents()).filter((t) => t.endsWith(RUN));
  await waitUntil('the newest note first', async () => (await mine())[0] === title('Newer idea'), 15_000, 200);

  // An edit moves a note to the top (the list is recently updated first).
  await openNote(p, ids.older);
  await p.getByLabel('Text', { exact: true }).fill(`lisbon trip ${RUN}, booked`);
  await saveAndWait(p);
  await waitUntil('the edited note on top', async () => (await mine())[0] === title('Older plan'), 15_000, 200);
  await p.getByTestId('sort').selectOption('created');
  await waitUntil('creation order', async () => (await mine())[0] === title('Newer idea'), 15_000, 200);
  await p.getByTestId('sort').selectOption('updated');

  // Search: words of the title or text, as prefixes.
  await p.goto(new URL('#/notes', SITE_URL).href);
  await p.getByLabel('Search', { exact: true }).fill(`lisb ${RUN}`);
  await waitUntil('search results', async () => {
    const titles = await p.getByTestId('note-item-title').allTextContents();
    return titles.length === 1 && titles[0] === title('Older plan');
  }, ACTIVITY_TIMEOUT_MS, 300);
  await p.getByTestId('notes-live-ok').filter({ hasText: '1 matching note' }).waitFor();
  await p.getByLabel('Search', { exact: true }).fill('');

  // Tags are links to the notes that have them.
  const tag = `trip${RUN.slice(0, 6)}`;
  await waitUntil('the full list again', async () => (await mine()).length >= 3, 15_000, 300);
  await p.locator(`[data-testid="note-item"][data-note-id="${ids.older}"]`).getByTestId('tag').filter({ hasText: tag }).click();
  await p.getByTestId('tag-filter').filter({ hasText: tag }).waitFor();
  await waitUntil('notes with the tag', async () => {
    const titles = await p.getByTestId('note-item-title').allTextContents();
    return titles.length === 1 && titles[0] === title('Older plan');
  }, ACTIVITY_TIMEOUT_MS, 300);
  await p.getByTestId('clear-tag').click();
  await waitUntil('every note again', async () => (await mine()).length >= 3, 15_000, 300);
});

test('unsaved edits are guarded and come back as a draft', STEP, async () => {
  const p = alice.page;
  await openNote(p, ids.newer);
  await p.getByLabel('Text', { exact: true }).fill('not saved yet');
  await p.waitForTimeout(400); // the draft is written as you type (debounced)

  // Switching notes asks first; keeping on editing stays on the note, text and address unchanged.
  await p.locator(`[data-testid="note-item"][data-note-id="${ids.older}"] a.note-link`).click();
  const dialog = p.getByTestId('confirm-dialog');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /unsaved changes/i);
  await p.getByTestId('confirm-cancel').click();
  assert.equal(await p.getByLabel('Text', { exact: true }).inputValue(), 'not saved yet');
  assert.ok(p.url().endsWith(`#/notes/${ids.newer}`), p.url());
  // Signing out asks too.
  await p.getByTestId('sign-out').click();
  await dialog.waitFor();
  await p.getByTestId('confirm-cancel').click();
  await p.getByTestId('current-user').filter({ hasText: 'alice' }).waitFor();

  // Another tab (or a later visit) gets the draft back, and can drop it.
  const other = watch(await alice.context.newPage(), 'alice-tab3');
  try {
    await other.goto(new URL(`#/notes/${ids.newer}`, SITE_URL).href);
    await other.getByTestId('draft-notice').waitFor();
    assert.equal(await other.getByLabel('Text', { exact: true }).inputValue(), 'not saved yet');
    await other.getByTestId('discard-draft').click();
    assert.equal(await other.getByLabel('Text', { exact: true }).inputValue(), 'an idea');
  } finally {
    await other.close();
  }

  // Leaving after all: confirmed, the editor closes.
  await p.getByTestId('close-note').click();
  await dialog.waitFor();
  await p.getByTestId('confirm-ok').click();
  await p.locator('[data-testid="editor"]').waitFor({ state: 'detached' });
});

test('bob never sees alice\'s notes', STEP, async () => {
  const p = bob.page;
  ids.bobs = await createNote(p, { name: title('Bob private'), body: 'only for bob' });
  const bobTitles = await listTitles(p);
  assert.ok(bobTitles.includes(title('Bob private')));
  assert.deepEqual(bobTitles.filter((t) => t.endsWith(RUN) && !t.startsWith('Bob')), [], 'none of alice\'s notes in bob\'s list');

  // Opening alice's note by its address shows "not found", not her note.
  await p.goto(new URL(`#/notes/${ids.groceries}`, SITE_URL).href);
  await p.getByTestId('note-error').filter({ hasText: /not found/i }).waitFor();
  assert.equal(await p.locator('[data-testid="editor"]').count(), 0);

  // The API agrees, with bob's own token.
  const token = await devToken('bob');
  const res = await fetch(`${API_URL}/v1/notes/${ids.groceries}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 404, 'bob gets 404 for alice\'s note');
  const atts = await fetch(`${API_URL}/v1/notes/${ids.groceries}/attachments`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(atts.status, 404, 'bob gets 404 for alice\'s attachments');

  // And alice does not see bob's note.
  const aliceTitles = await listTitles(alice.page);
  assert.ok(!aliceTitles.includes(title('Bob private')));
});

test('activity shows alice\'s changes (it may lag: polled with a bounded wait)', STEP, async () => {
  const p = alice.page;
  await p.getByTestId('nav').getByRole('link', { name: 'Activity' }).click();
  await p.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
  const forGroceries = p.locator(`[data-testid="activity-item"][data-note-id="${ids.groceries}"]`);
  await waitUntil('activity entries for the edited note', async () => {
    await p.getByTestId('refresh-activity').click();
    await p.getByTestId('refresh-activity').isEnabled();
    await p.waitForTimeout(300);
    return (await forGroceries.count()) >= 2; // created + updated at least
  }, ACTIVITY_TIMEOUT_MS, 1000);
  const bobsInAlice = await p.locator(`[data-testid="activity-item"][data-note-id="${ids.bobs}"]`).count();
  assert.equal(bobsInAlice, 0, 'no activity of bob in alice\'s view');
});

test('stats show totals and a per-day chart', STEP, async () => {
  const p = alice.page;
  await p.getByTestId('nav').getByRole('link', { name: 'Stats' }).click();
  await p.getByTestId('stats-chart').waitFor();
  const notes = Number(await p.getByTestId('stat-notes-total').textContent());
  const attachments = Number(await p.getByTestId('stat-attachments-total').textContent());
  assert.ok(notes >= 1, `notes_total is ${notes}`);
  assert.ok(attachments >= 1, `attachments_total is ${attachments}`);
  assert.equal(await p.locator('[data-testid="stats-chart"] > li').count(), 30);
});

test('390 px: every view fits, touch targets of 44 px, a close control atop the editor; axe finds nothing serious', { timeout: 180_000 }, async () => {
  const phone = { width: 390, height: 844 };
  const context = await browser.newContext({ viewport: phone, isMobile: true, hasTouch: true });
  const p = watch(await context.newPage(), 'alice-390');
  const violations = [];
  const check = async (view) => {
    await p.evaluate(() => document.activeElement?.blur());
    await p.screenshot({ path: path.join(SHOTS, `mobile-${view}.png`), fullPage: true });
    const w = await widths(p);
    assert.ok(w.scroll <= w.view, `${view}: the page is ${w.scroll} px wide in a ${w.view} px window`);
    assert.deepEqual(await smallTargets(p), [], `${view}: touch targets under 44 px`);
    violations.push(...(await axe(p, view)));
  };
  try {
    await fs.mkdir(SHOTS, { recursive: true });
    await p.goto(SITE_URL);
    await p.getByLabel('User name', { exact: true }).waitFor();
    await check('sign-in');
    await p.getByLabel('User name', { exact: true }).fill('alice');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByTestId('current-user').filter({ hasText: 'alice' }).waitFor();

    // A long unbroken title, the kind that used to make the activity view 2,400 px wide.
    const long = `${'W'.repeat(170)}${RUN}`;
    await p.goto(new URL('#/notes/new', SITE_URL).href);
    await p.getByLabel('Title', { exact: true }).fill(long);
    await p.getByLabel('Tags', { exact: true }).fill(`${'t'.repeat(32)}, x`);
    await p.getByTestId('save-note').click();
    const editor = p.locator('[data-testid="editor"]:not([data-note-id=""])');
    await editor.waitFor();
    ids.long = await editor.getAttribute('data-note-id');
    const close = await p.getByTestId('close-editor').boundingBox();
    const titleBox = await p.getByLabel('Title', { exact: true }).boundingBox();
    assert.ok(close && titleBox && close.y < titleBox.y, 'the close control is at the top of the editor');
    await check('editor');
    await p.getByTestId('close-editor').click();
    await p.getByTestId('notes-list').waitFor();
    await check('notes');
    await p.getByTestId('nav').getByRole('link', { name: 'Activity' }).click();
    await waitUntil('the long title in the activity', async () => {
      await p.getByTestId('refresh-activity').click();
      await p.waitForTimeout(300);
      return (await p.locator(`[data-testid="activity-item"][data-note-id="${ids.long}"]`).count()) > 0;
    }, ACTIVITY_TIMEOUT_MS, 500);
    await check('activity');
    await p.getByTestId('nav').getByRole('link', { name: 'Stats' }).click();
    await p.getByTestId('stats-chart').waitFor();
    await check('stats');
    await p.goto(new URL(`#/notes/${ids.groceries}`, SITE_URL).href);
    await p.getByTestId('attachment-link').first().waitFor();
    await check('editor-with-attachment');
  } finally {
    await context.close();
  }
  // The desktop views of alice, too.
  const d = alice.page;
  for (const [view, hash, ready] of [['desktop-notes', `#/notes/${ids.groceries}`, 'attachment-link'], ['desktop-activity', '#/activity', 'activity-list'], ['desktop-stats', '#/stats', 'stats-chart']]) {
    await d.goto(new URL(hash, SITE_URL).href);
    await d.getByTestId(ready).first().waitFor();
    violations.push(...(await axe(d, view)));
  }
  assert.deepEqual(violations, [], 'axe-core: serious or critical violations');
});

test('screenshot of the main screen; no page errors or CSP violations', STEP, async () => {
  const p = alice.page;
  await openNote(p, ids.groceries);
  await p.getByTestId('attachment-link').first().waitFor();
  await p.evaluate(() => document.activeElement?.blur());
  await p.mouse.move(0, 0);
  await fs.mkdir(path.dirname(SCREENSHOT), { recursive: true });
  await p.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`# screenshot: ${SCREENSHOT}`);
  assert.deepEqual(problems, []);
});
