// @ts-check
// A Cast board built on @spell-platform/cast-client: a sign-in form, the
// live list of a namespace, and one Cast followed to its end, with the
// phases it went through. Plain JavaScript (no JSX, no build step), typed
// by the package's .d.ts: `tsc --noEmit --checkJs` checks this file.

import { StrictMode, createElement as h, useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { signIn, signOut, whoAmI } from '@spell-platform/cast-client';
import { useCastEvents } from '@spell-platform/cast-client/react';

/** @typedef {import('@spell-platform/cast-client').Cast} Cast */
/** @typedef {import('@spell-platform/cast-client').Identity} Identity */

const params = new URLSearchParams(location.search);
/** The streamer, when it is not this page's origin (it must list this origin in --allowed-origins). */
const baseUrl = params.get('streamer') || undefined;
const namespace = params.get('namespace') || 'default';
const castId = params.get('cast') || '';

/** @param {{onSignedIn: (me: Identity) => void}} props */
function SignIn({ onSignedIn }) {
  const [error, setError] = useState('');
  /** @param {import('react').FormEvent<HTMLFormElement>} ev */
  const submit = async (ev) => {
    ev.preventDefault();
    const field = /** @type {HTMLInputElement} */ (ev.currentTarget.elements.namedItem('token'));
    const token = field.value.trim();
    field.value = '';
    try {
      onSignedIn(await signIn(token, { baseUrl }));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return h('form', { id: 'signin', onSubmit: submit },
    h('label', { htmlFor: 'token' }, 'Bearer token '),
    h('input', { id: 'token', name: 'token', type: 'password', autoComplete: 'off' }),
    h('button', { type: 'submit' }, 'Sign in'),
    error && h('p', { role: 'alert' }, error));
}

/** @param {{cast: Cast}} props */
function Row({ cast }) {
  return h('tr', { 'data-cast-id': cast.castId },
    h('td', null, cast.name),
    h('td', { className: 'phase' }, cast.status),
    h('td', null, h('progress', { max: 100, value: cast.progress })),
    h('td', null, cast.message));
}

function CastList() {
  const [toasts, setToasts] = useState(/** @type {string[]} */ ([]));
  const { casts, isConnected, state, lastUpdate, error } = useCastEvents({ namespace, baseUrl }, {
    onComplete: (cast) => setToasts((t) => [...t, `${cast.name} ${cast.status}`]),
  });
  const rows = [...casts.values()].sort((a, b) => a.name.localeCompare(b.name));
  return h('section', { id: 'list' },
    h('h2', null, `Casts in ${namespace} `, h('small', { id: 'list-state', 'data-connected': String(isConnected) }, state)),
    error && h('p', { role: 'alert' }, `${error.code}: ${error.message}`),
    h('table', null, h('tbody', null, rows.map((c) => h(Row, { key: c.castId, cast: c })))),
    h('p', null, lastUpdate ? `Last update ${lastUpdate.toLocaleTimeString()}` : 'Loading…'),
    h('ul', { id: 'toasts' }, toasts.map((t, i) => h('li', { key: i }, t))));
}

/** One Cast, as the replaced system's pages used the hook. */
function CastDetail() {
  const renders = useRef(0);
  renders.current++;
  const phases = useRef(/** @type {string[]} */ ([]));
  const { cast, isConnected, lastUpdate, reconnectCount, state } = useCastEvents({ castId, baseUrl }, {
    onConnectionChange: (connected) => console.info('cast stream', connected ? 'connected' : 'not connected'),
  });
  if (cast && phases.current.at(-1) !== cast.status) phases.current.push(cast.status);
  return h('section', { id: 'detail', 'data-state': state, 'data-renders': renders.current },
    h('h2', null, castId),
    h('p', null, `Connected: ${isConnected ? 'yes' : 'no'} · reconnects: ${reconnectCount}`,
      lastUpdate && ` · last update ${lastUpdate.toLocaleTimeString()}`),
    cast ? h('p', { id: 'detail-phase' }, `${cast.status} ${cast.progress}% ${cast.message}`) : h('p', null, 'Waiting for the first state…'),
    h('ol', { id: 'phases' }, phases.current.map((p, i) => h('li', { key: i }, p))));
}

function App() {
  const [me, setMe] = useState(/** @type {Identity | null | undefined} */ (undefined));
  useEffect(() => {
    whoAmI({ baseUrl }).then(setMe, () => setMe(null));
  }, []);
  if (me === undefined) return h('p', null, 'Loading…');
  if (me === null) return h(SignIn, { onSignedIn: setMe });
  const out = async () => {
    await signOut({ baseUrl });
    setMe(null);
  };
  return h('main', null,
    h('p', null, `Signed in as ${me.user} `, h('button', { type: 'button', onClick: out }, 'Sign out')),
    castId && h(CastDetail),
    h(CastList));
}

const root = document.getElementById('root');
if (root) createRoot(root).render(h(StrictMode, null, h(App)));
