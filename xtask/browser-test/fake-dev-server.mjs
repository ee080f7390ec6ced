// FAKE, for developing the UI only: a tiny in-memory stand-in for `cargo xtask dev` (site + API + dev token +
// presigned-URL uploads), written from the API contract so the front end and its browser test can be tried
// before the real dev server exists. It is NOT the product and proves nothing about the real API.
// Run: node xtask/browser-test/fake-dev-server.mjs [--site-port 8080] [--api-port 8081] [--auth dev|cognito]
// `--auth cognito` also fakes Cognito's hosted UI (authorize form, PKCE S256 token exchange, refresh, logout)
// with short-lived tokens (FAKE_TOKEN_TTL seconds, default 70), to exercise the app's Cognito code path.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const SITE_PORT = Number(flag('--site-port', process.env.SITE_PORT || 8080));
const API_PORT = Number(flag('--api-port', process.env.API_PORT || 8081));
const ACTIVITY_LAG_MS = Number(process.env.FAKE_ACTIVITY_LAG_MS || 1500);
const AUTH = flag('--auth', 'dev');
const TOKEN_TTL = Number(process.env.FAKE_TOKEN_TTL || 70);
const HOST = '127.0.0.1';
const SITE = `http://${HOST}:${SITE_PORT}`;
const API = `http://${HOST}:${API_PORT}`;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../static');

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json', '.png': 'image/png' };
const CSP = `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${API}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`;

// ---- site ----
http.createServer(async (req, res) => {
  const url = new URL(req.url, SITE);
  const headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };
  if (url.pathname === '/config.json') {
    res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
    const auth = AUTH === 'cognito'
      ? { mode: 'cognito', domain: `${API}/fake-cognito`, clientId: 'fake-client', redirectUri: `${SITE}/`, logoutUri: `${SITE}/` }
      : { mode: 'dev', tokenUrl: `${API}/dev/token` };
    res.end(JSON.stringify({ apiUrl: API, auth }));
    return;
  }
  const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
  const file = path.resolve(ROOT, rel);
  if (!file.startsWith(ROOT + path.sep)) return notFound();
  try {
    const body = await fs.readFile(file);
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    res.end(body);
  } catch {
    notFound();
  }
  async function notFound() {
    res.writeHead(404, { ...headers, 'Content-Type': TYPES['.html'] });
    res.end(await fs.readFile(path.join(ROOT, '404.html')).catch(() => 'not found'));
  }
}).listen(SITE_PORT, HOST);

// ---- API ----
const notes = new Map(); // user -> Map(id -> note)
const attachments = new Map(); // noteId -> Map(aid -> attachment)
const blobs = new Map(); // token -> { aid, content_type, size, bytes }
const activity = new Map(); // user -> [event]
let seq = 0;

const b64u = (s) => Buffer.from(s).toString('base64url');
const codes = new Map(); // authorization code -> { username, challenge, redirect_uri }
const refreshTokens = new Map(); // refresh token -> username
let tokensIssued = 0;
function mintIdToken(username, ttl) {
  const claims = { sub: `dev-${username}`, 'cognito:username': username, exp: Math.floor(Date.now() / 1000) + ttl, n: ++tokensIssued };
  return `${b64u('{"alg":"none"}')}.${b64u(JSON.stringify(claims))}.fake`;
}
const esc = (t) => String(t).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const newId = () => crypto.randomBytes(8).toString('hex');
const userNotes = (u) => notes.get(u) ?? notes.set(u, new Map()).get(u);
const etagOf = (n) => `"${n.id}-${n.version}"`;
const chars = (s) => [...s].length;

function record(user, kind, note) {
  const ev = { id: String(++seq), kind, note_id: note.id, title: note.title, at: new Date().toISOString() };
  setTimeout(() => (activity.get(user) ?? activity.set(user, []).get(user)).unshift(ev), ACTIVITY_LAG_MS);
}

function page(items, url) {
  const limit = Math.min(Math.max(Number(url.searchParams.get('limit') || 20), 1), 100);
  const cursor = url.searchParams.get('cursor');
  let start = 0;
  if (cursor) {
    start = Number(Buffer.from(cursor, 'base64url').toString());
    if (!Number.isInteger(start) || start < 0) throw [400, 'bad_cursor', 'The cursor is not valid.'];
  }
  const slice = items.slice(start, start + limit);
  return { items: slice, next_cursor: start + limit < items.length ? b64u(String(start + limit)) : null };
}

function validate(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw [400, 'invalid_body', 'The body must be a JSON object.'];
  for (const k of Object.keys(body)) if (!['title', 'body', 'tags'].includes(k)) throw [400, 'unknown_field', `Unknown field "${k}".`];
  const { title, body: text = '', tags = [] } = body;
  if (typeof title !== 'string' || chars(title) < 1 || chars(title) > 200) throw [400, 'invalid_title', 'The title must be 1 to 200 characters.'];
  if (typeof text !== 'string' || Buffer.byteLength(text) > 65536) throw [400, 'invalid_body', 'The body must be at most 64 KiB.'];
  if (!Array.isArray(tags) || tags.length > 20 || tags.some((t) => typeof t !== 'string' || chars(t) < 1 || chars(t) > 32)) {
    throw [400, 'invalid_tags', 'At most 20 tags of 1 to 32 characters.'];
  }
  return { title, body: text, tags };
}

async function readBody(req) {
  const parts = [];
  for await (const c of req) parts.push(c);
  return Buffer.concat(parts);
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, API);
  const cors = {
    'Access-Control-Allow-Origin': SITE,
    'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
    'Access-Control-Expose-Headers': 'ETag, Location, Retry-After',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  };
  const send = (status, body, extra = {}) => {
    res.writeHead(status, { ...cors, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...extra });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  try {
    if (req.method === 'OPTIONS') return send(204);
    const p = url.pathname;

    if (p === '/v1/health') return send(200, { status: 'ok', fake: true });
    if (p === '/dev/token' && req.method === 'POST') {
      const { username } = JSON.parse((await readBody(req)).toString() || '{}');
      if (typeof username !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(username)) throw [400, 'invalid_username', 'Use 1–64 letters, digits, dots, dashes or underscores.'];
      return send(200, { id_token: mintIdToken(username, 3600), expires_in: 3600 });
    }

    if (p === '/fake-cognito/oauth2/authorize' && req.method === 'GET') {
      const q = url.searchParams;
      if (q.get('client_id') !== 'fake-client' || q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
        throw [400, 'invalid_request', 'client_id, response_type=code and an S256 code_challenge are required.'];
      }
      const hidden = [...q].map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(`<!doctype html><title>Fake hosted UI</title><h1>Fake Cognito sign-in</h1>
        <form action="/fake-cognito/login" method="get">${hidden}<label for="u">Username</label> <input id="u" name="username">
        <button type="submit">Sign in</button></form>`);
    }
    if (p === '/fake-cognito/login' && req.method === 'GET') {
      const q = url.searchParams;
      const code = crypto.randomBytes(12).toString('hex');
      codes.set(code, { username: q.get('username') || 'user', challenge: q.get('code_challenge'), redirect_uri: q.get('redirect_uri') });
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state') ?? '');
      res.writeHead(302, { Location: back.href });
      return res.end();
    }
    if (p === '/fake-cognito/oauth2/token' && req.method === 'POST') {
      const form = new URLSearchParams((await readBody(req)).toString());
      const oauthError = (error) => {
        res.writeHead(400, { ...cors, 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error }));
      };
      if (form.get('client_id') !== 'fake-client') return oauthError('invalid_client');
      if (form.get('grant_type') === 'authorization_code') {
        const grant = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        if (!grant || grant.redirect_uri !== form.get('redirect_uri')) return oauthError('invalid_grant');
        const challenge = crypto.createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
        if (challenge !== grant.challenge) return oauthError('invalid_grant');
        const refresh = crypto.randomBytes(16).toString('hex');
        refreshTokens.set(refresh, grant.username);
        return send(200, { id_token: mintIdToken(grant.username, TOKEN_TTL), access_token: 'fake-access', refresh_token: refresh, expires_in: TOKEN_TTL, token_type: 'Bearer' });
      }
      if (form.get('grant_type') === 'refresh_token') {
        const username = refreshTokens.get(form.get('refresh_token'));
        if (!username) return oauthError('invalid_grant');
        return send(200, { id_token: mintIdToken(username, TOKEN_TTL), access_token: 'fake-access', expires_in: TOKEN_TTL, token_type: 'Bearer' });
      }
      return oauthError('unsupported_grant_type');
    }
    if (p === '/fake-cognito/logout' && req.method === 'GET') {
      if (url.searchParams.get('client_id') !== 'fake-client') throw [400, 'invalid_request', 'client_id is required.'];
      res.writeHead(302, { Location: url.searchParams.get('logout_uri') });
      return res.end();
    }

    let m = p.match(/^\/_fake-blob\/([a-f0-9]+)$/);
    if (m) {
      const blob = blobs.get(m[1]);
      if (!blob) throw [404, 'not_found', 'No such object.'];
      if (req.method === 'PUT') {
        if (req.headers['content-type'] !== blob.content_type) throw [403, 'signature_mismatch', 'Content-Type differs from the declared type.'];
        blob.bytes = await readBody(req);
        if (blob.bytes.length !== blob.size) throw [403, 'size_mismatch', 'Size differs from the declared size.'];
        return send(200);
      }
      res.writeHead(200, { ...cors, 'Content-Type': blob.content_type, 'Content-Disposition': `attachment; filename="${blob.filename}"` });
      return res.end(blob.bytes ?? Buffer.alloc(0));
    }

    const auth = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    let user = null;
    try {
      const claims = JSON.parse(Buffer.from(auth.split('.')[1], 'base64url').toString());
      if (claims.exp * 1000 > Date.now()) user = claims['cognito:username'];
    } catch {}
    if (!user) throw [401, 'unauthorized', 'Sign in first.'];
    const mine = userNotes(user);
    const json = async () => {
      if (!String(req.headers['content-type']).startsWith('application/json')) throw [415, 'unsupported_media_type', 'Send JSON.'];
      try {
        return JSON.parse((await readBody(req)).toString());
      } catch {
        throw [400, 'malformed_json', 'The body is not valid JSON.'];
      }
    };

    if (p === '/v1/notes' && req.method === 'GET') {
      const all = [...mine.values()].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.seq - a.seq);
      const out = page(all, url);
      out.items = out.items.map(({ seq: _s, ...n }) => n);
      return send(200, out);
    }
    if (p === '/v1/notes' && req.method === 'POST') {
      const fields = validate(await json());
      const now = new Date().toISOString();
      const note = { id: newId(), ...fields, version: 1, created_at: now, updated_at: now, seq: ++seq };
      mine.set(note.id, note);
      record(user, 'note_created', note);
      const { seq: _s, ...out } = note;
      return send(201, out, { ETag: etagOf(note), Location: `/v1/notes/${note.id}` });
    }
    if (p === '/v1/activity' && req.method === 'GET') return send(200, page(activity.get(user) ?? [], url));
    if (p === '/v1/stats' && req.method === 'GET') {
      const perDay = new Map();
      for (const n of mine.values()) perDay.set(n.created_at.slice(0, 10), (perDay.get(n.created_at.slice(0, 10)) ?? 0) + 1);
      let att = 0;
      for (const n of mine.values()) att += attachments.get(n.id)?.size ?? 0;
      return send(200, { notes_total: mine.size, attachments_total: att, per_day: [...perDay].map(([day, count]) => ({ day, count })) });
    }

    m = p.match(/^\/v1\/notes\/([^/]+)(\/attachments(?:\/([^/]+))?)?$/);
    if (!m) throw [404, 'not_found', 'No such route.'];
    const note = mine.get(m[1]);
    if (!note) throw [404, 'not_found', 'Note not found.'];
    const { seq: _s, ...view } = note;

    if (!m[2]) {
      if (req.method === 'GET') return send(200, view, { ETag: etagOf(note) });
      if (req.method === 'PUT') {
        const ifMatch = req.headers['if-match'];
        if (!ifMatch) throw [428, 'precondition_required', 'If-Match is required.'];
        const fields = validate(await json());
        if (ifMatch !== etagOf(note)) throw [412, 'precondition_failed', 'The note was changed by someone else.'];
        Object.assign(note, fields, { version: note.version + 1, updated_at: new Date().toISOString() });
        record(user, 'note_updated', note);
        const { seq: _t, ...out } = note;
        return send(200, out, { ETag: etagOf(note) });
      }
      if (req.method === 'DELETE') {
        mine.delete(note.id);
        attachments.delete(note.id);
        record(user, 'note_deleted', note);
        return send(204);
      }
      throw [405, 'method_not_allowed', 'Method not allowed.'];
    }

    const atts = attachments.get(note.id) ?? attachments.set(note.id, new Map()).get(note.id);
    if (!m[3] && req.method === 'POST') {
      const { filename, content_type, size } = await json();
      if (typeof filename !== 'string' || !filename || typeof content_type !== 'string' || !Number.isInteger(size) || size < 0 || size > 10 * 1024 * 1024) {
        throw [400, 'invalid_attachment', 'filename, content_type and size (≤ 10 MiB) are required.'];
      }
      const a = { id: newId(), filename, content_type, size, created_at: new Date().toISOString(), token: crypto.randomBytes(12).toString('hex') };
      atts.set(a.id, a);
      blobs.set(a.token, { filename, content_type, size, bytes: null });
      record(user, 'attachment_added', note);
      return send(201, { id: a.id, filename, content_type, size, upload_url: `${API}/_fake-blob/${a.token}`, expires_in: 900 });
    }
    if (!m[3] && req.method === 'GET') {
      const items = [...atts.values()].map(({ token, ...a }) => ({ ...a, download_url: `${API}/_fake-blob/${token}` }));
      return send(200, { items });
    }
    if (m[3] && req.method === 'DELETE') {
      if (!atts.delete(m[3])) throw [404, 'not_found', 'Attachment not found.'];
      return send(204);
    }
    throw [405, 'method_not_allowed', 'Method not allowed.'];
  } catch (err) {
    if (Array.isArray(err)) return send(err[0], { error: { code: err[1], message: err[2] } });
    console.error(err);
    return send(500, { error: { code: 'internal', message: 'Internal error.' } });
  }
}).listen(API_PORT, HOST);

console.log(`FAKE dev server (UI development only): site ${SITE}  api ${API}  auth ${AUTH}`);
