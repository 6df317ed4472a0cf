// The streamer's JSON API: URLs of a scope, requests with the session
// cookie, errors that say which refusal it was, and the session helpers.

import { CAST_EVENTS, keyOf, retryAfterSeconds } from './tracker.js';

/**
 * A refusal or failure from the streamer. code tells refusals apart
 * without knowing status codes: 'unauthorized' (401), 'forbidden' (403),
 * 'not-found' (404), 'bad-request' (400), 'rate-limited' (429 for too many
 * requests), 'stream-limit' (429 for too many open streams; streams says
 * how many), 'unavailable' (5xx), 'network' (no answer at all).
 */
export class ApiError extends Error {
  constructor(status, message, retryAfter = 0, { code, streams } = {}) {
    super(message || `HTTP ${status}`);
    this.name = 'ApiError';
    /** 0 when the network failed before any answer. */
    this.status = status;
    /** Seconds from Retry-After, 0 when absent. */
    this.retryAfter = retryAfter;
    this.code = code || codeOf(status);
    /** For 'stream-limit': {user, open, max}. */
    this.streams = streams;
  }
}

function codeOf(status) {
  switch (status) {
    case 0:
      return 'network';
    case 400:
      return 'bad-request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 429:
      return 'rate-limited';
  }
  return status >= 500 ? 'unavailable' : 'http';
}

const API = 'api/v1';

/**
 * Where the streamer is: baseUrl, or the page's own origin. cross says
 * whether requests must carry credentials across origins (CORS with
 * --allowed-origins, which the session cookie then needs).
 */
export function endpoint(baseUrl) {
  const here = globalThis.location?.href;
  const base = new URL(baseUrl ?? './', here);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return { base, cross: !here || base.origin !== new URL(here).origin };
}

/** URLs of a scope ({namespace: '' for all, name: '' for a collection}) relative to the streamer. */
export function paths({ namespace, name, labelSelector }) {
  let p = namespace ? `${API}/namespaces/${encodeURIComponent(namespace)}/casts` : `${API}/casts`;
  if (name) p += `/${encodeURIComponent(name)}`;
  const q = !name && labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
  return { json: p + q, events: `${p}/events${q}` };
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** A subscription's scope and event types, checked: the Set of types asked for, null for all. */
export function validate({ namespace = '', name = '', events }) {
  if (name && !namespace) throw new TypeError('a cast name needs its namespace');
  for (const [what, v] of [['namespace', namespace], ['name', name]]) {
    if (v && (typeof v !== 'string' || !NAME.test(v))) throw new TypeError(`${what} ${JSON.stringify(v)} is not a Kubernetes object name`);
  }
  if (events === undefined) return null;
  if (!Array.isArray(events) || events.length === 0) throw new TypeError('events must be a non-empty array of event types');
  for (const e of events) {
    if (!CAST_EVENTS.includes(e)) throw new TypeError(`unknown event type ${JSON.stringify(e)}: want one of ${CAST_EVENTS.join(', ')}`);
  }
  return new Set(events);
}

/**
 * Sends one request to the streamer (path relative to it) with the
 * session cookie, and returns the JSON answer, null for 204, or throws
 * an ApiError with the streamer's own words (403 names what is missing).
 */
export async function request(path, { baseUrl, method = 'GET', body, headers = {}, signal } = {}) {
  const { base, cross } = endpoint(baseUrl);
  let resp;
  try {
    resp = await fetch(new URL(path, base), {
      method,
      credentials: cross ? 'include' : 'same-origin',
      cache: 'no-store',
      signal,
      headers: { Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'The streamer cannot be reached');
  }
  if (resp.ok) return resp.status === 204 ? null : resp.json();
  let text = (await resp.text().catch(() => '')).trim();
  if ((resp.headers.get('Content-Type') || '').startsWith('application/json')) {
    try {
      text = JSON.parse(text).message || text;
    } catch {
      // not the JSON it claims: keep the text
    }
  }
  throw new ApiError(resp.status, text, retryAfterSeconds(resp.headers.get('Retry-After')));
}

/** Who is signed in ({user, groups, expiresAt, streams: {open, max}}), or null when nobody is. */
export async function whoAmI({ baseUrl } = {}) {
  try {
    return await request(`${API}/session`, { baseUrl });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

/**
 * Exchanges a bearer token for the streamer's HttpOnly session cookie,
 * which streams then use (EventSource cannot send headers). The token
 * lives only in this call: it is not kept, logged or put in a URL.
 */
export function signIn(token, { baseUrl } = {}) {
  return request(`${API}/session`, { baseUrl, method: 'POST', body: { token } });
}

/**
 * Clears the session cookie. For a single sign-on session it resolves to
 * {endSessionURL} when the provider can sign the user out too (send the
 * browser there), else null.
 */
export function signOut({ baseUrl } = {}) {
  return request(`${API}/session`, { baseUrl, method: 'DELETE' });
}

/**
 * The ways in the streamer offers, {token: true, sso: bool}; without an
 * answer, pasting a token. With sso, send the browser to
 * `${baseUrl}api/v1/oidc/login` to sign in through the identity provider.
 */
export async function signInMethods({ baseUrl } = {}) {
  try {
    return await request(`${API}/session/methods`, { baseUrl });
  } catch {
    return { token: true, sso: false };
  }
}

/**
 * Renews a single sign-on session before its ID token expires and
 * resolves to who is signed in, as whoAmI does; the refresh token stays in
 * its HttpOnly cookie.
 */
export function refreshSession({ baseUrl } = {}) {
  // The header is the streamer's CSRF guard: a cross-site page cannot send it.
  return request(`${API}/oidc/refresh`, { baseUrl, method: 'POST', headers: { 'X-Cast-Action': '1' } });
}

/** The JSON of a scope once: {items: [...]} for a collection, one Cast for a name. */
export function getCasts({ namespace, name, labelSelector, baseUrl, signal } = {}) {
  return request(paths({ namespace, name, labelSelector }).json, { baseUrl, signal });
}

/**
 * Which of keys ("namespace/name") the JSON list of a collection's scope
 * no longer holds; none when the list cannot be had, since a Cast must not
 * be declared deleted on a guess.
 */
export async function absentCasts(scope, keys, { baseUrl, signal } = {}) {
  try {
    const body = await getCasts({ ...scope, baseUrl, signal });
    const present = new Set((body.items || []).map(keyOf));
    return keys.filter((k) => !present.has(k));
  } catch {
    return [];
  }
}

/** The streamer's Retry-After when a user's stream slots are all taken. */
const STREAM_SLOT_WAIT_MS = 5000;

/**
 * The 429 EventSource hides, when the user holds every stream slot this
 * replica allows (other tabs, CLIs), as an ApiError that waits at least
 * the streamer's Retry-After and minWaitMs; null when slots are free.
 */
export async function streamLimit({ baseUrl, minWaitMs = 0 } = {}) {
  const me = await whoAmI({ baseUrl });
  const s = me?.streams;
  if (!s || !(s.max > 0) || s.open < s.max) return null;
  const secs = Math.ceil(Math.max(STREAM_SLOT_WAIT_MS, minWaitMs) / 1000);
  return new ApiError(429, `too many open streams for ${me.user}`, secs, { code: 'stream-limit', streams: { user: me.user, open: s.open, max: s.max } });
}
