// Entry point: loads the settings, restores or completes sign-in, and routes #/… addresses to the views.

import { loadConfig } from './config.js';
import { initAuth, currentUser, dropSession, onSessionChange, signOut } from './auth.js';
import { configureApi } from './api.js';
import { h, render, showError, clearError, clearStaleNotice, notify, confirmDiscard, hasUnsavedChanges, setUnsavedCheck } from './ui.js';
import { dropAllDrafts } from './drafts.js';
import { showSignIn } from './views/signin.js';
import { showNotes } from './views/notes.js';
import { showActivity } from './views/activity.js';
import { showStats } from './views/stats.js';

const nav = () => document.querySelector('[data-testid="nav"]');
const sessionBox = () => document.querySelector('[data-testid="session"]');

function updateHeader() {
  const user = currentUser();
  nav().hidden = !user;
  sessionBox().hidden = !user;
  document.querySelector('[data-testid="current-user"]').textContent = user ?? '';
}

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [section, ...rest] = hash.split('/');
  const id = rest.length ? decodeURIComponent(rest.join('/')) : null;
  if (section === 'activity') return { name: 'activity' };
  if (section === 'stats') return { name: 'stats' };
  return { name: 'notes', id };
}

function route() {
  updateHeader();
  if (!currentUser()) {
    document.title = 'Sign in — Notes';
    showSignIn();
    return;
  }
  const r = parseRoute();
  for (const link of nav().querySelectorAll('a[data-nav]')) {
    if (link.dataset.nav === r.name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (r.name === 'activity') {
    document.title = 'Activity — Notes';
    showActivity();
  } else if (r.name === 'stats') {
    document.title = 'Stats — Notes';
    showStats();
  } else {
    document.title = 'Notes';
    showNotes(r.id);
  }
}

async function start() {
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    render(h('section', { class: 'panel narrow' }, h('h1', {}, 'Notes is not available'), h('p', {}, err.message)));
    showError(err);
    return;
  }

  configureApi(config.apiUrl, () => dropSession());
  try {
    await initAuth(config);
  } catch (err) {
    showError(err);
  }

  // From here on, a session that starts or ends (sign-in, 401, failed refresh) re-routes.
  let signedIn = Boolean(currentUser());
  let signingOut = false;
  onSessionChange((session) => {
    const now = Boolean(session);
    if (now === signedIn) {
      updateHeader(); // a refresh: same user, new token
      return;
    }
    signedIn = now;
    route();
    if (!now && !signingOut) showError('Your session has ended. Please sign in again.');
  });

  document.querySelector('[data-testid="sign-out"]').addEventListener('click', async () => {
    if (!(await confirmDiscard())) return;
    clearError();
    setUnsavedCheck(null);
    dropAllDrafts(); // nothing of the user's notes stays on this device
    signingOut = true;
    signOut(); // Cognito mode leaves for the hosted UI's logout; dev mode shows the sign-in form
    signingOut = false;
    notify('You have signed out.');
  });

  // Unsaved edits: switching notes or screens asks first (the address already changed: put it
  // back while asking); leaving the page asks through the browser's own prompt.
  let shown = location.hash;
  let restoring = false;
  window.addEventListener('hashchange', async () => {
    if (restoring) {
      restoring = false;
      return;
    }
    if (hasUnsavedChanges()) {
      const wanted = location.hash;
      restoring = true;
      history.replaceState(null, '', shown || '#/notes');
      restoring = false;
      if (!(await confirmDiscard())) return;
      setUnsavedCheck(null);
      history.replaceState(null, '', wanted);
    }
    shown = location.hash;
    clearError();
    clearStaleNotice();
    route();
  });
  window.addEventListener('beforeunload', (event) => {
    if (!hasUnsavedChanges()) return;
    event.preventDefault();
    event.returnValue = '';
  });
  route();
}

start();
