// Wiring: session, routing (#/namespaces/{ns}, #/all, .../casts/{name}),
// the list's subscription, the detail's and the clock that ticks durations.
// Subscriptions come from the browser client the streamer serves at
// /js/v1/, the same one other teams' pages use.

import { Actions } from './actions.js';
import { ApiError, signIn, whoAmI } from './api.js';
import { hideDetailAlert, renderDetail, resetDetail, setDetailStream, showDetailAlert, tickDetail } from './detail.js';
import { clock, isTerminal, phaseLabel, phaseOf, shownState, tooManyText, validNamespace, withoutPrefix } from './format.js';
import { endSession, keepSession, offerSSO } from './session.js';
import { subscribe } from '../js/v1/cast-client.js';
import { CastTable, el, setConnection, setLastUpdate, toast } from './view.js';

const $ = (id) => document.getElementById(id);

const app = {
  user: null,
  /** The list's scope; namespace '' means all namespaces. */
  scope: { namespace: 'default' },
  /** castId → {snap, receivedAt} */
  casts: new Map(),
  listSub: null,
  listSynced: false,
  /** {namespace, name} of the open detail view, or null. */
  detail: null,
  detailSub: null,
  detailEntry: null,
};

const table = new CastTable($('cast-rows'), (castId) => {
  const entry = app.casts.get(castId);
  if (entry) location.hash = hashFor(app.scope, { namespace: entry.snap.namespace, name: entry.snap.name });
});

// ---- routing ----

function hashFor(scope, detail) {
  const base = scope.namespace ? `#/namespaces/${encodeURIComponent(scope.namespace)}` : '#/all';
  if (!detail) return base;
  if (scope.namespace) return `${base}/casts/${encodeURIComponent(detail.name)}`;
  return `${base}/casts/${encodeURIComponent(detail.namespace)}/${encodeURIComponent(detail.name)}`;
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return '';
    }
  });
  if (parts[0] === 'all') {
    const detail = parts[1] === 'casts' && validNamespace(parts[2] || '') && parts[3] ? { namespace: parts[2], name: parts[3] } : null;
    return { scope: { namespace: '' }, detail };
  }
  if (parts[0] === 'namespaces' && validNamespace(parts[1] || '')) {
    const detail = parts[2] === 'casts' && parts[3] ? { namespace: parts[1], name: parts[3] } : null;
    return { scope: { namespace: parts[1] }, detail };
  }
  return { scope: app.scope, detail: null };
}

function applyRoute() {
  if (!app.user) return;
  const { scope, detail } = parseHash();
  if (scope.namespace !== app.scope.namespace || !app.listSub) startList(scope);
  const same = detail && app.detail && detail.namespace === app.detail.namespace && detail.name === app.detail.name;
  if (detail && !same) openDetail(detail);
  if (!detail && app.detail) closeDetail();
  showView(detail ? 'detail' : 'list');
}

function showView(name) {
  $('signin-view').hidden = name !== 'signin';
  $('list-view').hidden = name !== 'list';
  $('detail-view').hidden = name !== 'detail';
  $('account').hidden = name === 'signin';
}

// ---- session ----

function signedIn(me) {
  app.user = me;
  keepSession(me, (renewed) => (app.user = renewed), () => showSignIn('Your session is about to expire — sign in again.'));
  $('user-name').textContent = me.user;
  $('user-name').title = me.expiresAt ? `Signed in as ${me.user} until ${clock(new Date(me.expiresAt))}` : `Signed in as ${me.user}`;
  $('signin-error').hidden = true;
  applyRoute();
}

function showSignIn(message) {
  stopAll();
  keepSession(null);
  app.user = null;
  table.clear();
  app.casts.clear();
  setConnection('idle');
  setLastUpdate(null);
  showView('signin');
  const err = $('signin-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('token').focus();
}

function sessionExpired() {
  showSignIn('Your session expired — sign in again.');
}

async function onSignIn(ev) {
  ev.preventDefault();
  const field = $('token');
  const token = field.value.trim();
  field.value = '';
  const err = $('signin-error');
  if (!token) {
    err.textContent = 'Paste a bearer token first.';
    err.hidden = false;
    field.focus();
    return;
  }
  const button = $('signin-submit');
  button.disabled = true;
  try {
    signedIn(await signIn(token));
    $('main').focus();
  } catch (e) {
    err.textContent = signInError(e);
    err.hidden = false;
    field.focus();
  } finally {
    button.disabled = false;
  }
}

function signInError(e) {
  if (!(e instanceof ApiError)) return String(e);
  switch (e.status) {
    case 0:
      return 'The streamer cannot be reached. Check your connection and try again.';
    case 401:
      return `That token was not accepted: ${e.message.replace(/^token not accepted:\s*/i, '')}.`;
    case 429:
      return `Too many attempts — try again in ${e.retryAfter || 'a few'} s.`;
    default:
      return e.message;
  }
}

async function onSignOut() {
  stopAll();
  if (!(await endSession())) showSignIn();
}

function stopAll() {
  app.listSub?.close();
  app.listSub = null;
  app.detailSub?.close();
  app.detailSub = null;
  app.detail = null;
}

// ---- the list ----

function startList(scope) {
  app.listSub?.close();
  app.scope = scope;
  app.casts.clear();
  app.listSynced = false;
  table.clear();
  hideListAlert();
  setLastUpdate(null);
  $('namespace').value = scope.namespace || $('namespace').value;
  $('namespace').disabled = !scope.namespace;
  $('all-namespaces').checked = !scope.namespace;
  $('casts').classList.toggle('all-ns', !scope.namespace);
  $('scope-label').textContent = scope.namespace ? `in ${scope.namespace}` : 'in all namespaces';
  document.title = `Casts · ${scope.namespace || 'all namespaces'}`;
  updateEmpty();
  const sub = subscribe({ namespace: scope.namespace }, {
    onStatus: upsertCast,
    onProgress: upsertCast,
    onComplete: upsertCast,
    onDeleted: (snap) => removeCast(snap.castId),
    onSynced() {
      app.listSynced = true;
      updateEmpty();
      setLastUpdate(sub.lastUpdate);
    },
    onConnectionChange(state, info) {
      setConnection(shownState(state, info));
      if (state === 'live' || state === 'polling') hideListAlert('retry');
    },
    onError: listFailure,
  });
  app.listSub = sub;
  setConnection(sub.state);
}

function upsertCast(snap) {
  setLastUpdate(new Date());
  const prev = app.casts.get(snap.castId);
  const entry = { snap, receivedAt: performance.now() };
  app.casts.set(snap.castId, entry);
  table.render(entry, entry.receivedAt);
  learnNamespace(snap.namespace);
  const phase = phaseOf(snap);
  if (prev && phaseOf(prev.snap) !== phase) {
    toast(`${snap.name} ${phaseLabel(phase)}`, phase);
  }
  if (app.detailSub?.state === 'closed' && snap.castId === `${app.detail.namespace}/${app.detail.name}` && !isTerminal(phase)) openDetail(app.detail);
  updateEmpty();
}

function removeCast(castId) {
  setLastUpdate(new Date());
  app.casts.delete(castId);
  table.remove(castId);
  updateEmpty();
}

function updateEmpty() {
  const empty = $('list-empty');
  const where = app.scope.namespace ? `namespace ${app.scope.namespace}` : 'any namespace';
  $('casts').setAttribute('aria-busy', String(!app.listSynced));
  if (table.size > 0 || !$('list-alert').hidden) {
    empty.hidden = true;
    return;
  }
  empty.hidden = false;
  empty.textContent = app.listSynced ? `No casts in ${where}.` : 'Loading casts…';
}

function listFailure(err) {
  switch (err.status) {
    case 401:
      sessionExpired();
      return;
    case 403:
      table.clear();
      app.casts.clear();
      showListAlert(`You may not see these casts: ${withoutPrefix(err.message)}`, 'error', 'forbidden');
      return;
    case 429:
      showListAlert(tooManyText(err), 'warn', 'retry');
      return;
    default:
      showListAlert(err.message, 'error', 'other');
  }
}

function showListAlert(text, kind, reason) {
  const box = $('list-alert');
  box.className = `alert alert-${kind}`;
  box.dataset.reason = reason;
  box.textContent = text;
  box.hidden = false;
  $('table-wrap').hidden = reason === 'forbidden';
  updateEmpty();
}

/** Hides the list alert; with a reason, only an alert given for it. */
function hideListAlert(reason) {
  const box = $('list-alert');
  if (reason && box.dataset.reason !== reason) return;
  box.hidden = true;
  box.dataset.reason = '';
  $('table-wrap').hidden = false;
}

function learnNamespace(ns) {
  const list = $('known-namespaces');
  if (!ns || [...list.options].some((o) => o.value === ns)) return;
  list.append(el('option', { value: ns }));
}

function onScopeSubmit(ev) {
  ev.preventDefault();
  const all = $('all-namespaces').checked;
  const ns = $('namespace').value.trim();
  const err = $('namespace-error');
  if (!all && !validNamespace(ns)) {
    err.textContent = 'A namespace is lowercase letters, digits and dashes (at most 63).';
    err.hidden = false;
    $('namespace').setAttribute('aria-invalid', 'true');
    $('namespace').focus();
    return;
  }
  err.hidden = true;
  $('namespace').removeAttribute('aria-invalid');
  location.hash = hashFor({ namespace: all ? '' : ns }, null);
  if (parseHash().scope.namespace === app.scope.namespace && app.listSub) startList(app.scope);
}

// ---- the detail view ----

const actions = new Actions({ onExpired: () => sessionExpired() });

function openDetail(detail) {
  app.detailSub?.close();
  app.detail = detail;
  app.detailEntry = null;
  resetDetail(detail.namespace, detail.name);
  actions.open(detail);
  const show = (snap) => {
    setLastUpdate(new Date());
    app.detailEntry = { snap, receivedAt: performance.now() };
    renderDetail(app.detailEntry, app.detailEntry.receivedAt);
    hideDetailAlert();
    actions.update(snap);
  };
  app.detailSub = subscribe(detail, {
    onStatus: show,
    onProgress: show,
    onComplete: show,
    onDeleted() {
      showDetailAlert('This cast was deleted.', 'warn');
    },
    onConnectionChange(state, info) {
      setDetailStream(shownState(state, info), { deleted: info.reason === 'deleted' });
    },
    onError(err) {
      if (err.status === 401) sessionExpired();
      else if (err.status === 403) showDetailAlert(`You may not see this cast: ${withoutPrefix(err.message)}`);
      else if (err.status === 404) showDetailAlert(`Cast ${detail.namespace}/${detail.name} was not found.`);
      else if (err.status === 429) showDetailAlert(tooManyText(err), 'warn');
      else showDetailAlert(err.message);
    },
  });
  setDetailStream(app.detailSub.state);
  requestAnimationFrame(() => $('detail-title').focus());
}

function closeDetail() {
  const was = app.detail;
  app.detailSub?.close();
  app.detailSub = null;
  app.detail = null;
  app.detailEntry = null;
  requestAnimationFrame(() => {
    if (!was || !table.focusRow(`${was.namespace}/${was.name}`)) $('main').focus();
  });
}

function backToList() {
  location.hash = hashFor(app.scope, null);
}

// ---- start ----

function tick() {
  const now = performance.now();
  table.tick(now);
  if (app.detailEntry && !isTerminal(phaseOf(app.detailEntry.snap))) tickDetail(app.detailEntry, now);
}

async function start() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('sign-out').addEventListener('click', onSignOut);
  $('scope-form').addEventListener('submit', onScopeSubmit);
  $('all-namespaces').addEventListener('change', (ev) => {
    $('namespace').disabled = ev.target.checked;
  });
  $('detail-back').addEventListener('click', backToList);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && app.detail && !$('confirm-dialog').open) backToList();
  });
  window.addEventListener('hashchange', applyRoute);
  window.addEventListener('offline', () => setConnection('offline'));
  // The client retries at once when the browser is back online.
  window.addEventListener('online', () => setConnection(app.listSub?.state ?? 'idle'));
  setInterval(tick, 1000);

  offerSSO($('sso-signin'));
  setConnection('connecting');
  // Until the streamer answers, show the form with the reason and ask again
  // now and then; a sign-in in the meantime ends the loop.
  while (!app.user) {
    try {
      const me = await whoAmI();
      if (me) signedIn(me);
      else if (!app.user) showSignIn();
      return;
    } catch (e) {
      if (app.user) return;
      showSignIn(signInError(e));
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

start();
