// Browser test of the app's Cognito code path (authorization code + PKCE S256, state check, token refresh,
// sign-out) against the FAKE hosted UI in fake-dev-server.mjs, which it starts itself on free ports. It checks
// the front end's side of the protocol only; real Cognito is exercised after a deploy, not here.
// Env: CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN_TTL = 64; // seconds: the app refreshes 60 s before expiry, so about 4 s after sign-in

let server;
let browser;
let page;
let SITE;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const session = () => page.evaluate(() => JSON.parse(sessionStorage.getItem('notes.session') || 'null'));

before(async () => {
  const [sitePort, apiPort] = [await freePort(), await freePort()];
  SITE = `http://127.0.0.1:${sitePort}/`;
  server = spawn(process.execPath, [path.join(HERE, 'fake-dev-server.mjs'), '--site-port', sitePort, '--api-port', apiPort, '--auth', 'cognito'], {
    env: { ...process.env, FAKE_TOKEN_TTL: String(TOKEN_TTL) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitFor('the fake server', async () => (await fetch(`${SITE}config.json`)).ok, 15_000);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await browser?.close();
  server?.kill();
});

test('sign-in goes through the hosted UI with PKCE and comes back signed in', async () => {
  await page.goto(`${SITE}#/stats`);
  await page.getByTestId('sign-in').click();
  await page.waitForURL(/\/fake-cognito\/oauth2\/authorize\?/);
  const authorize = new URL(page.url());
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.match(authorize.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.ok(authorize.searchParams.get('state').length >= 16);
  assert.equal(authorize.searchParams.get('redirect_uri'), SITE);

  await page.getByLabel('Username').fill('dave');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('current-user').filter({ hasText: 'dave' }).waitFor();
  await page.getByTestId('stats-chart').waitFor(); // back on the screen the user started from
  const here = new URL(page.url());
  assert.equal(here.search, '', 'the code and state are removed from the address bar');
  assert.equal(here.hash, '#/stats');
  const s = await session();
  assert.ok(s.idToken && s.refreshToken, 'tokens are kept in sessionStorage');
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
});

test('the ID token is refreshed before it expires and API calls keep working', async () => {
  const first = (await session()).idToken;
  await waitFor('a refreshed ID token', async () => (await session()).idToken !== first, 20_000);
  await page.getByTestId('nav').getByRole('link', { name: 'Notes' }).click();
  await page.getByTestId('new-note').click();
  await page.getByLabel('Title', { exact: true }).fill('After refresh');
  await page.getByTestId('save-note').click();
  await page.getByTestId('notes-list').getByText('After refresh', { exact: true }).waitFor();
});

test('sign-out clears the session and ends the hosted UI session', async () => {
  await page.getByTestId('sign-out').click();
  await page.waitForURL((u) => u.href.startsWith(SITE) && !u.search);
  await page.getByTestId('sign-in').waitFor();
  assert.equal(await session(), null);
});

test('a callback with a wrong state is refused', async () => {
  await page.goto(`${SITE}?code=stolen&state=forged`);
  await page.getByTestId('error').filter({ hasText: /state/i }).waitFor();
  await page.getByTestId('sign-in').waitFor();
  assert.equal(new URL(page.url()).search, '');
  assert.equal(await session(), null);
});
