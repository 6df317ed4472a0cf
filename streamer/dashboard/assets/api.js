// The streamer's JSON API for the dashboard. The session and every read
// go through the browser client the streamer serves at /js/v1/ (the one
// other teams' pages use); only actions are the dashboard's own. Paths are
// relative to the page, which the streamer serves on its own origin, so
// the session cookie (Path=/api/) goes along.

import { paths, request } from '../js/v1/http.js';

export { ApiError, refreshSession, signIn, signInMethods, signOut, whoAmI } from '../js/v1/cast-client.js';

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
