// Single sign-on in the page: offer it when the streamer has it, renew the
// session before its ID token expires, and sign out at the provider too.
// The tokens themselves stay in HttpOnly cookies this page cannot read.

import { refreshSession, signInMethods, signOut } from './api.js';

/** A session is renewed this long before its ID token expires. */
const REFRESH_LEAD_MS = 60_000;
let refreshTimer = 0;

/** Shows the "Sign in with SSO" block when the streamer offers it. */
export async function offerSSO(block) {
  block.hidden = !(await signInMethods()).sso;
}

/**
 * Keeps a single sign-on session (me from whoAmI) alive: a minute before
 * it expires it is renewed, and renewed(me) called; if it cannot be,
 * lapsing() asks the user to sign in again. null stops it.
 */
export function keepSession(me, renewed, lapsing) {
  clearTimeout(refreshTimer);
  refreshTimer = 0;
  if (!me?.sso || !me.expiresAt) return;
  const wait = Math.max(0, new Date(me.expiresAt).getTime() - Date.now() - REFRESH_LEAD_MS);
  refreshTimer = setTimeout(async () => {
    let next;
    try {
      next = await refreshSession();
    } catch {
      lapsing();
      return;
    }
    renewed(next);
    keepSession(next, renewed, lapsing);
  }, wait);
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
