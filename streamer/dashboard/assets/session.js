// Single sign-on in the page: offer it when the streamer has it, renew the
// session before its ID token expires, and sign out at the provider too.
// The tokens themselves stay in HttpOnly cookies this page cannot read.

import { refreshSession, signInMethods, signOut, whoAmI } from './api.js';

/** A session is renewed this long before its ID token expires, or halfway through a shorter one. */
const REFRESH_LEAD_MS = 60_000;
/** Renewals are at least this far apart, however short the provider makes ID tokens. */
const MIN_REFRESH_DELAY_MS = 5_000;
/** Tabs of one browser share the session cookies: one of them renews at a time. */
const REFRESH_LOCK = 'cast-sso-refresh';
let refreshTimer = 0;

/** Shows the "Sign in with SSO" block when the streamer offers it. */
export async function offerSSO(block) {
  block.hidden = !(await signInMethods()).sso;
}

/**
 * How long to wait before renewing a session that has lifetimeMs left
 * now: a minute before it expires, or halfway for a shorter one, so a
 * provider's short-lived ID tokens do not make the page renew back to back.
 */
function refreshDelay(lifetimeMs) {
  const lead = Math.min(REFRESH_LEAD_MS, lifetimeMs / 2);
  return Math.max(MIN_REFRESH_DELAY_MS, lifetimeMs - lead);
}

/**
 * Keeps a single sign-on session (me from whoAmI) alive: before it
 * expires it is renewed, and renewed(me) called; if it cannot be,
 * lapsing() asks the user to sign in again. null stops it.
 */
export function keepSession(me, renewed, lapsing) {
  clearTimeout(refreshTimer);
  refreshTimer = 0;
  if (!me?.sso || !me.expiresAt) return;
  refreshTimer = setTimeout(async () => {
    let next;
    try {
      next = await renew(me);
    } catch {
      lapsing();
      return;
    }
    renewed(next);
    keepSession(next, renewed, lapsing);
  }, refreshDelay(new Date(me.expiresAt).getTime() - Date.now()));
}

/**
 * Renews the session me, or takes the one another tab renewed meanwhile:
 * every tab's timer fires at the same moment, and a provider that rotates
 * refresh tokens refuses the second use of one. Tabs take turns where the
 * browser has Web Locks (secure contexts); elsewhere a refused renewal is
 * checked against the session before it counts.
 */
function renew(me) {
  const later = (s) => (s?.sso && new Date(s.expiresAt) > new Date(me.expiresAt) ? s : null);
  const current = () => whoAmI().then(later, () => null);
  const attempt = async () => {
    const done = await current();
    if (done) return done;
    try {
      return await refreshSession();
    } catch (err) {
      const other = await current();
      if (other) return other;
      throw err;
    }
  };
  return navigator.locks ? navigator.locks.request(REFRESH_LOCK, attempt) : attempt();
}

/**
 * Signs out. Resolves true when the browser is on its way to the
 * provider's sign-out, which sends it back here.
 */
export async function endSession() {
  keepSession(null);
  try {
    const out = await signOut();
    if (out?.endSessionURL) {
      location.assign(out.endSessionURL);
      return true;
    }
  } catch {
    // The cookie may outlive a failed request; the page forgets it anyway.
  }
  return false;
}
