// useCastEvents: the cast-client subscription as a React hook, with the
// interface of the system cast-operator replaces, so its pages move over
// by changing an import. React is a peer dependency: the page's own copy.

import { useEffect, useRef, useState } from 'react';
import { subscribe } from './cast-client.js';

/** Splits "namespace/name" (the wire's castId) into its parts. */
function scopeOf({ castId, namespace, name }) {
  if (!castId) return { namespace, name };
  const i = castId.indexOf('/');
  if (i <= 0 || i === castId.length - 1) throw new TypeError(`castId ${JSON.stringify(castId)}: want "namespace/name"`);
  return { namespace: castId.slice(0, i), name: castId.slice(i + 1) };
}

const FORWARDED = ['onStatus', 'onProgress', 'onComplete', 'onDeleted', 'onSynced'];

/**
 * Follows one Cast ({castId} or {namespace, name}), a namespace
 * ({namespace}) or all namespaces ({}) while the component is mounted, and
 * re-renders it on every change. Handlers may change on every render
 * without resubscribing; the scope and options resubscribe when they
 * change.
 */
export function useCastEvents(options = {}, handlers = {}) {
  const { namespace, name } = scopeOf(options);
  const { labelSelector, baseUrl, pollIntervalMs } = options;
  const events = options.events ? options.events.join(',') : '';
  const latest = useRef(handlers);
  latest.current = handlers;
  const [view, setView] = useState(() => ({
    state: 'connecting',
    isConnected: false,
    lastUpdate: null,
    reconnectCount: 0,
    casts: new Map(),
    error: null,
  }));

  useEffect(() => {
    let sub = null;
    let active = true;
    // Each change gets a new Map, so components can compare by identity.
    const sync = () => {
      if (!sub || !active) return;
      setView({
        state: sub.state,
        isConnected: sub.state === 'live' || sub.state === 'polling',
        lastUpdate: sub.lastUpdate,
        reconnectCount: sub.reconnectCount,
        casts: new Map(sub.casts),
        error: sub.error,
      });
    };
    const forward = (key) => (...args) => {
      sync();
      latest.current[key]?.(...args);
    };
    const hs = Object.fromEntries(FORWARDED.map((k) => [k, forward(k)]));
    hs.onError = forward('onError');
    hs.onConnectionChange = (state, info) => {
      sync();
      latest.current.onConnectionChange?.(state === 'live' || state === 'polling', state, info);
    };
    sub = subscribe(
      { namespace, name, labelSelector, baseUrl, pollIntervalMs, events: events ? events.split(',') : undefined },
      hs,
    );
    sync();
    return () => {
      active = false;
      sub.close();
    };
  }, [namespace, name, labelSelector, baseUrl, pollIntervalMs, events]);

  const cast = name ? (view.casts.get(`${namespace}/${name}`) ?? null) : null;
  return { ...view, cast };
}
