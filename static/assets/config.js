// Runtime settings: loads /config.json (written by the deploy, served by the dev server) and checks its shape.

function trimSlash(url) {
  return String(url).replace(/\/+$/, '');
}

function requireString(obj, key, where) {
  const value = obj?.[key];
  if (typeof value !== 'string' || value === '') {
    throw new Error(`config.json: "${where}${key}" is missing`);
  }
  return value;
}

/** Fetches and validates the settings. Throws an Error with a readable message. */
export async function loadConfig() {
  let res;
  try {
    res = await fetch('/config.json', { cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch {
    throw new Error('Could not load the app settings (/config.json). Check your connection and reload.');
  }
  if (!res.ok) throw new Error(`Could not load the app settings (/config.json answered ${res.status}).`);
  let raw;
  try {
    raw = await res.json();
  } catch {
    throw new Error('The app settings (/config.json) are not valid JSON.');
  }

  // An empty apiUrl means the API is served from the site's own origin.
  if (typeof raw?.apiUrl !== 'string') throw new Error('config.json: "apiUrl" is missing');
  const apiUrl = trimSlash(raw.apiUrl ? new URL(raw.apiUrl, location.origin).href : location.origin);
  const auth = raw.auth ?? {};
  const mode = requireString(auth, 'mode', 'auth.');
  if (mode === 'dev') {
    return { apiUrl, auth: { mode, tokenUrl: requireString(auth, 'tokenUrl', 'auth.') } };
  }
  if (mode === 'cognito') {
    return {
      apiUrl,
      auth: {
        mode,
        domain: trimSlash(requireString(auth, 'domain', 'auth.')),
        clientId: requireString(auth, 'clientId', 'auth.'),
        redirectUri: requireString(auth, 'redirectUri', 'auth.'),
        logoutUri: requireString(auth, 'logoutUri', 'auth.'),
        scope: typeof auth.scope === 'string' && auth.scope ? auth.scope : 'openid email',
      },
    };
  }
  throw new Error(`config.json: unknown auth.mode "${mode}"`);
}
