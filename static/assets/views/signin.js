// Sign-in screen: a user-name form for the dev server's token endpoint, or a button to Cognito's hosted UI.

import { authMode, signIn } from '../auth.js';
import { h, render, clearError, statusLine } from '../ui.js';

export function showSignIn() {
  const dev = authMode() === 'dev';
  const button = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'sign-in' }, 'Sign in');
  const live = statusLine('signin-status');
  const input = dev
    ? h('input', {
        id: 'username',
        name: 'username',
        type: 'text',
        autocomplete: 'username',
        required: true,
        maxlength: 64,
        'aria-describedby': 'username-hint',
        'data-testid': 'username',
      })
    : null;

  const form = h(
    'form',
    {
      class: 'stack',
      'data-testid': 'signin-form',
      onsubmit: async (event) => {
        event.preventDefault();
        clearError();
        live.clear();
        button.disabled = true;
        button.textContent = 'Signing in…';
        try {
          await signIn(input?.value);
          // Dev mode: the session listener in app.js now shows the notes. Cognito: the page is leaving.
        } catch (err) {
          live.fail(err);
          button.disabled = false;
          button.textContent = 'Sign in';
          input?.focus();
        }
      },
    },
    dev && [
      h('label', { for: 'username' }, 'User name'),
      input,
      h('p', { id: 'username-hint', class: 'hint' }, 'Development sign-in: any user name, no password. Each name has its own notes.'),
    ],
    !dev && h('p', {}, 'You will be taken to the secure sign-in page and brought back here.'),
    button,
    live.el,
  );

  render(h('section', { class: 'panel narrow', 'aria-labelledby': 'signin-heading' }, h('h1', { id: 'signin-heading' }, 'Sign in to Notes'), form), { focus: false });
  (input ?? button).focus();
}
