// Feed keeps one scope (a namespace, all namespaces, or one Cast) up to date
// from the streamer: an EventSource while it works, JSON polling when it
// cannot, and the reason in plain words when the streamer refuses.
//
// Reconnecting: while the connection only drops, the browser's EventSource
// reconnects by itself after the server's `retry:` and sends Last-Event-ID,
// so the streamer answers with just what changed. An EventSource gives up
// for good (readyState CLOSED) on any answer but 200 (401, 403, 429, a proxy's
// 502), and hides the status code; the feed then asks the JSON endpoint of
// the same scope what is wrong, and opens a new EventSource after a backoff.
// The JSON endpoint is not bound by the per-user limit on open streams, so
// when it answers the feed also asks the session (/api/v1/session) how many
// streams the user holds: all of them means the stream got that 429.
// A new EventSource cannot send Last-Event-ID, so it gets a full snapshot,
// and Casts missing from it are dropped when `synced` arrives; so are they
// when `synced` says a resume was answered with a full snapshot.

import { ApiError, fetchScope, paths, whoAmI } from './api.js';
import { isTerminal, phaseOf } from './format.js';

const CHANGE_KINDS = ['status', 'progress', 'complete', 'deleted'];
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const POLL_MS = 5000;
/** The streamer's Retry-After when a user's stream slots are all taken. */
const STREAM_SLOT_WAIT_MS = 5000;
/** Failures in a row before giving up on streaming for a while. */
const FAILURES_BEFORE_POLLING = 5;
/** In polling mode, try the stream again after this many polls. */
const POLLS_BEFORE_STREAM_RETRY = 6;

/** Exponential backoff with jitter: attempt 1 waits 0.5–1 s, then doubling, at most 30 s. */
export function backoff(attempt) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

const hasEventSource = () => typeof window.EventSource === 'function';

/**
 * @typedef {object} FeedHandlers
 * @property {(snap: object, kind: string) => void} upsert  a Cast's new state
 * @property {(castId: string, snap: object) => void} remove  a Cast is gone
 * @property {(ids: Set<string>|null) => void} synced  the initial state is
 *   in; ids when it was a full snapshot (drop Casts not in it), null after
 *   an exact resume
 * @property {(state: string, info?: object) => void} state  'connecting',
 *   'live', 'reconnecting', 'polling', 'finished' or 'stopped'
 * @property {(at: Date) => void} activity  data arrived
 * @property {(err: ApiError) => void} failure  a refusal to show: 400, 401,
 *   403 and 404 stop the feed; after 429 it retries by itself. A 429 for
 *   too many open streams carries err.streams: {user, open, max}
 */

export class Feed {
  /**
   * @param {{namespace: string, name?: string}} scope namespace '' is all namespaces
   * @param {FeedHandlers} handlers
   */
  constructor(scope, handlers) {
    this.scope = scope;
    this.single = Boolean(scope.name);
    this.h = handlers;
    this.url = paths(scope).events;
    this.es = null;
    this.timer = 0;
    this.failures = 0;
    this.polls = 0;
    this.stopped = false;
    this.lastId = '';
    this.full = true;
    this.seen = new Set();
    /** 'stream' or 'polling'. */
    this.mode = 'stream';
  }

  start() {
    if (hasEventSource()) this.connect();
    else this.startPolling();
  }

  /** Stops for good: no more callbacks. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.closeStream();
  }

  /** Retries now instead of waiting out a backoff (the network came back). */
  nudge() {
    if (this.stopped || this.es || this.mode === 'polling') return;
    clearTimeout(this.timer);
    this.connect();
  }

  setState(state, info) {
    this.h.state(state, info);
  }

  closeStream() {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  connect() {
    if (this.stopped) return;
    this.closeStream();
    this.mode = 'stream';
    this.setState(this.failures > 0 ? 'reconnecting' : 'connecting');
    const es = new EventSource(this.url);
    this.es = es;
    this.lastId = '';
    es.onopen = () => {
      if (es !== this.es) return;
      this.failures = 0;
      // The first connection of an EventSource sends no Last-Event-ID and
      // gets every Cast; its own reconnects resume from the last id.
      this.full = this.lastId === '';
      this.seen = new Set();
      this.setState('live');
    };
    for (const kind of CHANGE_KINDS) {
      es.addEventListener(kind, (ev) => this.onChange(es, kind, ev));
    }
    es.addEventListener('synced', (ev) => this.onSynced(es, ev));
    es.onerror = () => this.onError(es);
  }

  onChange(es, kind, ev) {
    if (es !== this.es) return;
    let snap;
    try {
      snap = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (ev.lastEventId) this.lastId = ev.lastEventId;
    this.h.activity(new Date());
    if (kind === 'deleted') {
      this.seen.delete(snap.castId);
      this.h.remove(snap.castId, snap);
    } else {
      this.seen.add(snap.castId);
      this.h.upsert(snap, kind);
    }
    if (this.single && (kind === 'complete' || kind === 'deleted')) {
      // The streamer ends a single-Cast stream here. An EventSource would
      // reconnect to a closed stream, so close it: this Cast is done.
      this.stop();
      this.setState('finished', { deleted: kind === 'deleted' });
    }
  }

  onSynced(es, ev) {
    if (es !== this.es) return;
    if (ev.lastEventId) this.lastId = ev.lastEventId;
    let data = {};
    try {
      data = JSON.parse(ev.data || '{}') || {};
    } catch {
      // keep {}
    }
    this.h.activity(new Date());
    // `resumed: false` means a full snapshot (the replica could not answer
    // our Last-Event-ID exactly, e.g. it restarted): Casts not in it are gone.
    // A new EventSource sends no id, so it always gets one.
    const full = this.full || data.resumed === false;
    this.h.synced(full ? new Set(this.seen) : null);
  }

  onError(es) {
    if (es !== this.es || this.stopped) return;
    this.failures++;
    if (es.readyState !== EventSource.CLOSED && this.failures < FAILURES_BEFORE_POLLING) {
      // The browser is already reconnecting, with Last-Event-ID.
      this.setState('reconnecting');
      return;
    }
    this.closeStream();
    this.diagnose();
  }

  /** The stream failed for good: the JSON endpoint tells why. */
  async diagnose() {
    this.setState('reconnecting');
    try {
      const body = await fetchScope(this.scope);
      if (this.stopped) return;
      // The streamer answers, so the stream failed for a stream-only reason
      // (too many open streams, a proxy that breaks streaming): show this
      // fresh state and try streaming again later.
      if (this.apply(body)) return;
      const full = await this.streamsFull();
      if (this.stopped) return;
      if (full) {
        this.handleError(full, () => {});
        return;
      }
      this.retry(0);
    } catch (err) {
      if (!this.stopped) this.handleError(err, () => this.retry(0));
    }
  }

  /**
   * Asks the session whether the user holds all the stream slots this
   * replica allows (other tabs, CLIs): the 429 EventSource hid. Returns that
   * 429 as an ApiError, with a backoff of at least the streamer's
   * Retry-After so waiting tabs do not spend the user's request budget, or
   * null when slots are free.
   */
  async streamsFull() {
    const me = await whoAmI();
    const streams = me?.streams;
    if (!streams || !(streams.max > 0) || streams.open < streams.max) return null;
    const secs = Math.ceil(Math.max(STREAM_SLOT_WAIT_MS, backoff(this.failures)) / 1000);
    const err = new ApiError(429, `too many open streams for ${me.user}`, secs);
    err.streams = { user: me.user, open: streams.open, max: streams.max };
    return err;
  }

  /**
   * Shows a refusal and decides what next: stop (400, 401, 403, 404), wait out
   * Retry-After (429), or retry (network errors, 5xx).
   */
  handleError(err, retry) {
    const e = err instanceof ApiError ? err : new ApiError(0, String(err));
    switch (e.status) {
      case 400:
      case 401:
      case 403:
      case 404:
        this.stop();
        this.setState('stopped', { status: e.status });
        this.h.failure(e);
        return;
      case 429: {
        const secs = Math.max(1, e.retryAfter);
        this.h.failure(Object.assign(new ApiError(429, e.message, secs), e.streams ? { streams: e.streams } : {}));
        this.setState('reconnecting', { retryIn: secs * 1000 });
        clearTimeout(this.timer);
        this.timer = setTimeout(() => (this.mode === 'polling' ? this.pollOnce() : this.connect()), secs * 1000);
        return;
      }
      default:
        retry(e.retryAfter * 1000);
    }
  }

  retry(minDelayMs) {
    if (this.stopped) return;
    if (this.failures >= FAILURES_BEFORE_POLLING) {
      this.startPolling();
      return;
    }
    const delay = Math.max(minDelayMs, backoff(Math.max(1, this.failures)));
    this.setState('reconnecting', { retryIn: delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Applies a JSON answer as a full state. Returns true when that finished
   * the feed (a single Cast in a terminal phase, which the stream would only
   * repeat as `complete`).
   */
  apply(body) {
    this.h.activity(new Date());
    if (this.single) {
      this.h.upsert(body, 'status');
      if (isTerminal(phaseOf(body))) {
        this.stop();
        this.setState('finished', { deleted: false });
        return true;
      }
      return false;
    }
    const ids = new Set();
    for (const snap of body.items || []) {
      ids.add(snap.castId);
      this.h.upsert(snap, 'status');
    }
    this.h.synced(ids);
    return false;
  }

  startPolling() {
    this.closeStream();
    this.mode = 'polling';
    this.polls = 0;
    this.setState('polling');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pollOnce(), 0);
  }

  async pollOnce() {
    if (this.stopped) return;
    try {
      const body = await fetchScope(this.scope);
      if (this.stopped) return;
      this.setState('polling');
      if (this.apply(body)) return;
      this.polls++;
      if (hasEventSource() && this.polls % POLLS_BEFORE_STREAM_RETRY === 0) {
        // Give streaming another chance; one more failure returns here.
        this.failures = FAILURES_BEFORE_POLLING - 1;
        this.connect();
        return;
      }
    } catch (err) {
      if (this.stopped) return;
      const e = err instanceof ApiError ? err : new ApiError(0, String(err));
      if ([400, 401, 403, 404, 429].includes(e.status)) {
        this.handleError(e, () => {});
        return;
      }
      this.setState('reconnecting');
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pollOnce(), POLL_MS);
  }
}
