// The streamer's JSON API: session (sign in, who am I, sign out) and the
// polling endpoints. Paths are relative to the page, which the streamer
// serves on its own origin, so the session cookie (Path=/api/) goes along.

/** An HTTP error with what the streamer said and when to retry. */
export class ApiError extends Error {
  constructor(status, message, retryAfter = 0) {
    super(message || `HTTP ${status}`);
    this.name = 'ApiError';
    /** 0 means the network failed before any answer. */
    this.status = status;
    /** Seconds from Retry-After, 0 when absent. */
    this.retryAfter = retryAfter;
  }
}

const API = 'api/v1';

/** URL paths of a scope: {namespace: '' for all, name: '' for a collection}. */
export function paths({ namespace, name }) {
  let base = namespace ? `${API}/namespaces/${encodeURIComponent(namespace)}/casts` : `${API}/casts`;
  if (name) base += `/${encodeURIComponent(name)}`;
  return { json: base, events: `${base}/events` };
}

function retryAfterOf(resp) {
  const v = resp.headers.get('Retry-After');
  if (!v) return 0;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, Math.ceil(secs));
  const when = Date.parse(v);
  return Number.isNaN(when) ? 0 : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

async function request(path, { method = 'GET', body, headers = {} } = {}) {
  let resp;
  try {
    resp = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'The streamer cannot be reached');
  }
  if (resp.ok) {
    if (resp.status === 204) return null;
    return resp.json();
  }
  // Errors are written for people (403 names what is missing): plain
  // text, or for actions JSON {message, reason}.
  let text = (await resp.text().catch(() => '')).trim();
  if ((resp.headers.get('Content-Type') || '').startsWith('application/json')) {
    try {
      text = JSON.parse(text).message || text;
    } catch {
      // not the JSON it claims: keep the text
    }
  }
  throw new ApiError(resp.status, text, retryAfterOf(resp));
}

/** Who is signed in, or null when nobody is (401). */
export async function whoAmI() {
  try {
    return await request(`${API}/session`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

/**
 * Exchanges a bearer token for the HttpOnly session cookie. The token lives
 * only in this call: it is not kept, logged or put in a URL.
 */
export function signIn(token) {
  return request(`${API}/session`, { method: 'POST', body: { token } });
}

/**
 * Ends the session. For a single sign-on session it resolves to
 * {endSessionURL} when the provider can sign the user out too, else null.
 */
export function signOut() {
  return request(`${API}/session`, { method: 'DELETE' });
}

/** The ways in this streamer offers: {token: true, sso: bool}. */
export async function signInMethods() {
  try {
    return await request(`${API}/session/methods`);
  } catch {
    return { token: true, sso: false };
  }
}

/**
 * Renews a single sign-on session before its ID token expires; resolves
 * to who is signed in, as whoAmI does. The refresh token stays in its
 * HttpOnly cookie.
 */
export function refreshSession() {
  return request(`${API}/oidc/refresh`, { method: 'POST' });
}

/** The JSON for a scope: {items: [...]} for a collection, a snapshot for one Cast. */
export function fetchScope(scope) {
  return request(paths(scope).json);
}

/** What the signed-in user may do to one Cast now: {cancel, rerun, rerunFailed}, each {allowed, reason}. */
export function fetchActions(detail) {
  return request(`${paths(detail).json}/actions`);
}

/**
 * Asks the streamer to cancel ('cancel') or re-run ('rerun', with
 * {failedOnly}) a Cast as the signed-in user. The header is the streamer's
 * CSRF guard: a cross-site page cannot send it along with the cookie.
 */
export function act(detail, action, body = {}) {
  return request(`${paths(detail).json}/${action}`, { method: 'POST', body, headers: { 'X-Cast-Action': '1' } });
}
