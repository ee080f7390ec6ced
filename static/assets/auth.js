// Sign-in: Cognito hosted UI (authorization code + PKCE) in AWS, or the dev server's token endpoint locally.
// Tokens live in memory and in this tab's sessionStorage only (never localStorage or a cookie), are
// refreshed before expiry and cleared on sign-out. A tab opened later asks the open tabs for the session
// over a BroadcastChannel (same origin only), so signing in once covers every tab; signing out in one
// tab signs out all of them. See SPEC.md ("Where the token lives").

const SESSION_KEY = 'notes.session';
const PKCE_KEY = 'notes.pkce';
const REFRESH_MARGIN_MS = 60_000; // refresh this long before the ID token expires

let config = null;
let session = null; // { idToken, refreshToken?, expiresAt, user }
let refreshTimer = null;
let refreshing = null;
const listeners = new Set();
const PEER_WAIT_MS = 400; // how long a new tab waits for an open tab to hand over the session
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('notes.auth') : null;
let peerAnswer = null; // resolves with a session an open tab sent

channel?.addEventListener('message', (event) => {
  const msg = event.data ?? {};
  if (msg.type === 'ask' && session) channel.postMessage({ type: 'session', session });
  else if (msg.type === 'session' && peerAnswer && isUsable(msg.session)) peerAnswer(msg.session);
  else if (msg.type === 'signout' && session) save(null, { broadcast: false });
});

function isUsable(s) {
  return Boolean(s && typeof s.idToken === 'string' && Number(s.expiresAt) > Date.now() + 5_000);
}

/** Asks the other open tabs for their session; null when none answers in time. */
function askPeers() {
  if (!channel) return Promise.resolve(null);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      peerAnswer = null;
      resolve(null);
    }, PEER_WAIT_MS);
    peerAnswer = (s) => {
      clearTimeout(timer);
      peerAnswer = null;
      resolve(s);
    };
    channel.postMessage({ type: 'ask' });
  });
}

/** Error raised by sign-in and token calls, with a message fit to show to the user. */
export class AuthError extends Error {}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function s256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return base64url(new Uint8Array(digest));
}

/** Reads the claims of a JWT without verifying it (the API verifies it); null if it is not a JWT. */
function jwtClaims(token) {
  try {
    const part = token.split('.')[1];
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

function userFromToken(token, fallback) {
  const c = jwtClaims(token) ?? {};
  return c['cognito:username'] || c.username || c.preferred_username || c.email || fallback || c.sub || 'you';
}

function save(next, { broadcast = true } = {}) {
  const signingOut = session && !next;
  session = next;
  if (next) sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(SESSION_KEY);
  if (signingOut && broadcast) channel?.postMessage({ type: 'signout' });
  scheduleRefresh();
  for (const fn of listeners) fn(session);
}

function fromTokenResponse(body, fallbackUser, previousRefresh) {
  if (!body || typeof body.id_token !== 'string') throw new AuthError('The sign-in service sent no ID token.');
  const seconds = Number(body.expires_in) > 0 ? Number(body.expires_in) : 3600;
  return {
    idToken: body.id_token,
    refreshToken: body.refresh_token || previousRefresh || null,
    expiresAt: Date.now() + seconds * 1000,
    user: userFromToken(body.id_token, fallbackUser),
  };
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  if (!session) return;
  const wait = session.expiresAt - Date.now() - REFRESH_MARGIN_MS;
  if (session.refreshToken) {
    refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(wait, 0));
  } else {
    // Dev tokens cannot be refreshed: drop the session when it expires, which sends the user to sign-in.
    refreshTimer = setTimeout(() => save(null), Math.max(session.expiresAt - Date.now(), 0));
  }
}

async function postForm(url, fields) {
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams(fields),
    });
  } catch {
    throw new AuthError('Could not reach the sign-in service.');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const detail = body?.error_description || body?.error || `status ${res.status}`;
    throw new AuthError(`Sign-in failed (${detail}).`);
  }
  return body;
}

/** Loads any saved session and, in Cognito mode, completes a redirect back from the hosted UI. */
export async function initAuth(cfg) {
  config = cfg;
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (saved?.idToken && saved.expiresAt > Date.now() + 5_000) session = saved;
    else if (saved?.refreshToken) session = { ...saved, expiresAt: 0 };
  } catch {
    sessionStorage.removeItem(SESSION_KEY);
  }
  if (config.auth.mode === 'cognito') await completeRedirect();
  if (!session) {
    const shared = await askPeers();
    if (shared) {
      session = shared;
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(shared));
    }
  }
  if (session && session.expiresAt <= Date.now()) await refresh().catch(() => save(null));
  scheduleRefresh();
  return session;
}

async function completeRedirect() {
  const url = new URL(location.href);
  const code = url.searchParams.get('code');
  const state = url.searchParams.get('state');
  const error = url.searchParams.get('error');
  if (!code && !error) return;

  // Remove the one-time parameters from the address bar whatever happens next.
  const pkce = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null');
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, '', url.pathname + (pkce?.hash || url.hash));

  if (error) throw new AuthError(`Sign-in was not completed (${url.searchParams.get('error_description') || error}).`);
  if (!pkce || !state || pkce.state !== state) {
    throw new AuthError('Sign-in could not be verified (state mismatch). Please sign in again.');
  }
  const a = config.auth;
  const body = await postForm(`${a.domain}/oauth2/token`, {
    grant_type: 'authorization_code',
    client_id: a.clientId,
    code,
    redirect_uri: a.redirectUri,
    code_verifier: pkce.verifier,
  });
  save(fromTokenResponse(body));
}

/** Starts sign-in. Dev mode needs a user name; Cognito mode leaves the page for the hosted UI. */
export async function signIn(username) {
  const a = config.auth;
  if (a.mode === 'dev') {
    const name = String(username ?? '').trim();
    if (!name) throw new AuthError('Enter a user name.');
    let res;
    try {
      res = await fetch(a.tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ username: name }),
      });
    } catch {
      throw new AuthError('Could not reach the dev sign-in endpoint. Is `cargo xtask dev` running?');
    }
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new AuthError(body?.error?.message || `Sign-in failed (status ${res.status}).`);
    save(fromTokenResponse(body, name));
    return;
  }

  const verifier = randomString(48);
  const state = randomString(24);
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: a.clientId,
    redirect_uri: a.redirectUri,
    scope: a.scope,
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
  });
  location.assign(`${a.domain}/oauth2/authorize?${q}`);
}

/** Uses the refresh token (Cognito) to get a fresh ID token; signs out if that is refused. */
export function refresh() {
  if (!session?.refreshToken || config.auth.mode !== 'cognito') return Promise.resolve(session);
  refreshing ??= postForm(`${config.auth.domain}/oauth2/token`, {
    grant_type: 'refresh_token',
    client_id: config.auth.clientId,
    refresh_token: session.refreshToken,
  })
    .then((body) => save(fromTokenResponse(body, session?.user, session?.refreshToken)))
    .catch((err) => {
      save(null);
      throw err;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing.then(() => session);
}

/** Returns a valid ID token (refreshing first when it is about to expire), or null when signed out. */
export async function idToken() {
  if (!session) return null;
  if (session.expiresAt - Date.now() < 30_000) {
    if (session.refreshToken) await refresh().catch(() => {});
    else if (session.expiresAt <= Date.now()) save(null);
  }
  return session?.idToken ?? null;
}

export function currentUser() {
  return session?.user ?? null;
}

export function authMode() {
  return config?.auth.mode;
}

/** Forgets the session locally (e.g. after a 401) without leaving the page. */
export function dropSession() {
  save(null);
}

/** Signs out: clears storage and, in Cognito mode, ends the hosted UI session too. */
export function signOut() {
  sessionStorage.removeItem(PKCE_KEY);
  save(null);
  const a = config.auth;
  if (a.mode === 'cognito') {
    const q = new URLSearchParams({ client_id: a.clientId, logout_uri: a.logoutUri });
    location.assign(`${a.domain}/logout?${q}`);
  }
}

/** Calls fn(session) whenever the session changes (sign-in, refresh, sign-out). */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
