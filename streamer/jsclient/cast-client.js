// @spell-platform/cast-client: follow Casts from the cast-operator streamer
// in a browser. subscribe() keeps one Cast, a namespace or all namespaces
// current over Server-Sent Events, and falls back to polling the JSON API
// where streaming fails or EventSource is missing. Its guarantees are the
// Go client's (streamer/client): resume with Last-Event-ID, full-jitter
// backoff that honours Retry-After, never an older state after a newer one
// (except the streamer's full snapshot after an etcd restore), a synthetic
// `deleted` for Casts missing from a full snapshot (confirmed by the JSON
// list when `events` left states out of it), a single-Cast
// subscription that ends itself after `complete`, and refusals told apart
// (ApiError.code).
//
// How the browser's EventSource is used: while a connection only drops,
// EventSource reconnects by itself after the streamer's `retry:` and sends
// Last-Event-ID, so the streamer answers with what changed. On any answer
// but 200 it gives up for good and hides the status code; the subscription
// then asks the JSON endpoint of the same scope what is wrong (it is not
// bound by the per-user stream limit), and the session how many streams
// the user holds: all of them means the stream got that 429.

import { ApiError, absentCasts, endpoint, getCasts, paths, streamLimit, validate } from './http.js';
import { CAST_EVENTS, Tracker, backoffDelay, classify, isTerminalPhase, keyOf } from './tracker.js';

export { ApiError, getCasts, refreshSession, signIn, signInMethods, signOut, whoAmI } from './http.js';
export { CAST_EVENTS, backoffDelay } from './tracker.js';

const HANDLER = { status: 'onStatus', progress: 'onProgress', complete: 'onComplete', deleted: 'onDeleted' };

/**
 * Starts following a scope: {namespace, name} for one Cast, {namespace}
 * for a namespace, {} for all namespaces; labelSelector narrows a
 * collection, events (e.g. ['status', 'complete']) asks the streamer for
 * only those event types. See cast-client.d.ts for every option.
 */
export function subscribe(options = {}, handlers = {}) {
  return new Subscription(options, handlers);
}

class Subscription {
  constructor(options, handlers) {
    const only = validate(options);
    this.scope = { namespace: options.namespace || '', name: options.name || '', labelSelector: options.labelSelector || '' };
    this.single = Boolean(this.scope.name);
    this.events = only ?? new Set(CAST_EVENTS);
    this.h = handlers;
    this.baseUrl = options.baseUrl;
    this.opt = {
      pollIntervalMs: options.pollIntervalMs ?? 5000,
      initialBackoffMs: options.initialBackoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 30000,
      failuresBeforePolling: options.failuresBeforePolling ?? 5,
      pollsBeforeStreamRetry: options.pollsBeforeStreamRetry ?? 6,
    };
    const { base, cross } = endpoint(this.baseUrl);
    const url = new URL(paths(this.scope).events, base);
    if (only) url.search += `${url.search ? '&' : '?'}events=${[...only].join(',')}`;
    /** The stream's URL (read-only). */
    this.url = url.href;
    this.cross = cross;

    /** 'connecting' | 'live' | 'reconnecting' | 'polling' | 'closed' */
    this.state = 'connecting';
    /** When data last arrived (a Date), null before any. */
    this.lastUpdate = null;
    /** How often the subscription got its feed back after losing it. */
    this.reconnectCount = 0;
    /** The current Casts by castId ("namespace/name"). */
    this.casts = new Map();
    /** The last refusal (an ApiError), null when none. */
    this.error = null;

    this.track = new Tracker(this.events);
    this.es = null;
    /** While the JSON list settles a batch's ghosts: the stream's later events, in order. */
    this.held = null;
    this.diagnosing = false;
    this.esLastId = '';
    this.timer = 0;
    this.failures = 0;
    this.polls = 0;
    this.mode = 'stream';
    this.lost = false;
    this.connected = false;
    this.aborter = new AbortController();
    this.onOnline = () => this.nudge();
    globalThis.addEventListener?.('online', this.onOnline);
    if (typeof globalThis.EventSource === 'function') this.connect();
    else this.startPolling();
  }

  /** Ends the subscription: no more requests, no more handler calls. */
  close() {
    this.stop('closed');
  }

  /** Ends for good; tells onConnectionChange unless the consumer asked for it (close). */
  stop(reason, error) {
    if (this.state === 'closed') return;
    clearTimeout(this.timer);
    this.closeStream();
    this.aborter.abort();
    globalThis.removeEventListener?.('online', this.onOnline);
    if (reason === 'closed') this.state = 'closed';
    else this.setState('closed', error ? { reason, error } : { reason });
  }

  /** Retries at once instead of waiting out a backoff: the network came back. */
  nudge() {
    if (this.state !== 'reconnecting' || this.es || this.diagnosing || this.mode === 'polling') return;
    clearTimeout(this.timer);
    this.connect();
  }

  call(name, ...args) {
    const fn = this.h[name];
    if (typeof fn !== 'function') return;
    try {
      fn(...args);
    } catch (err) {
      // A handler's bug must not end the subscription; it still shows.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  setState(state, info) {
    if (this.state === 'closed' || (state === this.state && !info)) return;
    if (state === 'live' || state === 'polling') {
      if (this.lost) this.reconnectCount++;
      this.lost = false;
      this.connected = true;
    } else if (state === 'reconnecting' && this.connected) {
      this.lost = true;
    }
    this.state = state;
    this.call('onConnectionChange', state, info ?? {});
  }

  touch() {
    this.lastUpdate = new Date();
  }

  /** Tells the consumer one event the tracker let through. */
  deliver(type, id, cast, synthetic = false) {
    const key = cast.castId || keyOf(cast);
    if (type === 'deleted') this.casts.delete(key);
    else this.casts.set(key, cast);
    if (this.events.has(type)) this.call(HANDLER[type], cast, { type, id, synthetic });
  }

  closeStream() {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  connect() {
    if (this.state === 'closed') return;
    this.closeStream();
    this.mode = 'stream';
    this.setState(this.connected || this.failures > 0 ? 'reconnecting' : 'connecting');
    const es = new EventSource(this.url, { withCredentials: this.cross });
    this.es = es;
    // A new EventSource sends no Last-Event-ID: it gets a full snapshot.
    this.esLastId = '';
    es.onopen = () => this.receive(es, () => this.onOpen(es));
    for (const type of CAST_EVENTS) es.addEventListener(type, (ev) => this.receive(es, () => this.onCast(es, type, ev)));
    es.addEventListener('synced', (ev) => this.receive(es, () => this.onSynced(es, ev)));
    es.onerror = () => this.onError(es);
  }

  /** Handles a stream's event now, or after the batch the JSON list is settling. */
  receive(es, handle) {
    if (this.held?.es === es) this.held.queue.push(handle);
    else handle();
  }

  onOpen(es) {
    if (es !== this.es) return;
    this.failures = 0;
    this.track.begin(this.esLastId, !this.single);
    this.setState('live');
  }

  onCast(es, type, ev) {
    if (es !== this.es) return;
    if (ev.lastEventId) this.esLastId = ev.lastEventId;
    let cast;
    try {
      cast = JSON.parse(ev.data);
    } catch {
      return; // not a Cast: skipping it beats ending the subscription
    }
    this.touch();
    const id = ev.lastEventId || cast.resourceVersion;
    if (!this.track.offer({ type, id, cast })) return;
    this.deliver(type, id, cast);
    // The streamer ends a single Cast's stream here; EventSource would
    // reconnect to it, so close: this Cast is done.
    if (this.single && (type === 'complete' || type === 'deleted')) this.stop(type);
  }

  onSynced(es, ev) {
    if (es !== this.es) return;
    if (ev.lastEventId) this.esLastId = ev.lastEventId;
    let data = {};
    try {
      data = JSON.parse(ev.data || '{}') || {};
    } catch {
      // an older streamer's synced carries no data
    }
    this.touch();
    // resumed: true says Casts not sent again are unchanged, false that the
    // batch was a full snapshot and they are gone, unless it left out the
    // types not asked for (a Cast running again when only outcomes were).
    // Where the batch does not settle it the JSON list does: no Cast is
    // declared deleted on a guess.
    const ghosts = data.resumed === true ? [] : this.track.ghostCandidates();
    const check = data.resumed === false ? !this.track.whole() : this.track.needsCheck();
    if (ghosts.length === 0 || !check) {
      this.settle(ev.lastEventId, ghosts, data);
      return;
    }
    const held = { es, queue: [] };
    this.held = held;
    absentCasts(this.scope, ghosts, { baseUrl: this.baseUrl, signal: this.aborter.signal }).then((gone) => {
      if (this.held === held) this.held = null;
      if (es !== this.es) return;
      this.settle(ev.lastEventId, gone, data);
      for (const handle of held.queue) this.receive(es, handle);
    });
  }

  /** Ends the initial batch: the ghosts' deletions, then onSynced. */
  settle(syncedId, ghosts, data) {
    for (const d of this.track.synced(syncedId, ghosts, data.resumed === false)) this.deliver(d.type, d.id, d.cast, true);
    this.call('onSynced', data.resumed === true);
  }

  onError(es) {
    if (es !== this.es || this.state === 'closed') return;
    this.failures++;
    if (es.readyState !== 2 && this.failures < this.opt.failuresBeforePolling) {
      this.setState('reconnecting'); // the browser reconnects by itself, with Last-Event-ID
      return;
    }
    this.closeStream();
    this.diagnose();
  }

  /** The stream failed for good: the JSON endpoint and the session tell why. */
  async diagnose() {
    this.setState('reconnecting');
    // Until this decides, nudge() must not connect: apply() would reset
    // the new stream's batch, and retry() close it.
    this.diagnosing = true;
    try {
      const body = await getCasts({ ...this.scope, baseUrl: this.baseUrl, signal: this.aborter.signal });
      if (this.state === 'closed' || this.apply(body)) return;
      // The streamer answers JSON, so the stream failed for a stream-only
      // reason: too many open streams, or a proxy that breaks streaming.
      const full = await streamLimit({ baseUrl: this.baseUrl, minWaitMs: this.delay(0) });
      if (this.state === 'closed') return;
      if (full) this.refused(full);
      else this.retry(0);
    } catch (err) {
      if (this.state !== 'closed' && err?.name !== 'AbortError') this.refused(err);
    } finally {
      this.diagnosing = false;
    }
  }

  delay(retryAfterMs) {
    const o = this.opt;
    return backoffDelay(Math.max(0, this.failures - 1), { initialMs: o.initialBackoffMs, maxMs: o.maxBackoffMs, retryAfterMs });
  }

  /** A refusal or failure: stop (400, 401, 403, 404), wait out Retry-After (429), or retry. */
  refused(err) {
    const e = err instanceof ApiError ? err : new ApiError(0, String(err));
    if ([400, 401, 403, 404].includes(e.status)) {
      if (e.status === 404 && this.single) {
        const gone = this.track.forget(`${this.scope.namespace}/${this.scope.name}`, NaN, false);
        if (gone) {
          // A restarted streamer cannot report a deletion it never saw.
          this.deliver(gone.type, gone.id, gone.cast, true);
          this.stop('deleted');
          return;
        }
      }
      this.error = e;
      this.call('onError', e);
      this.stop('error', e);
      return;
    }
    if (e.status === 429) {
      this.error = e;
      this.call('onError', e);
      const wait = Math.max(1000, e.retryAfter * 1000);
      this.setState('reconnecting', { retryIn: wait, error: e });
      this.schedule(wait);
      return;
    }
    this.retry(e.retryAfter * 1000, e);
  }

  retry(minDelayMs, error) {
    if (this.state === 'closed') return;
    if (this.failures >= this.opt.failuresBeforePolling) {
      this.startPolling();
      return;
    }
    const wait = this.delay(minDelayMs);
    this.setState('reconnecting', error ? { retryIn: wait, error } : { retryIn: wait });
    this.schedule(wait);
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => (this.mode === 'polling' ? this.pollOnce() : this.connect()), ms);
  }

  /**
   * Applies a JSON answer, the streamer's whole state for the scope, as a
   * full snapshot. True when that finished a single Cast (a terminal
   * phase, which its stream would only repeat as `complete`).
   */
  apply(body) {
    this.touch();
    if (this.single) {
      this.track.begin('', false);
      this.offerPolled(body);
      if (isTerminalPhase(body.status)) {
        this.stop('complete');
        return true;
      }
      return false;
    }
    this.track.begin('', true);
    for (const cast of body.items || []) this.offerPolled(cast);
    // The list holds every Cast whatever the types asked for: what it
    // lacks is gone (told as deleted only to those who asked).
    this.settle('', this.track.unseen(), { resumed: false });
    return false;
  }

  offerPolled(cast) {
    const type = classify(this.casts.get(cast.castId || keyOf(cast)), cast);
    const id = cast.resourceVersion;
    if (this.track.offer({ type, id, cast })) this.deliver(type, id, cast);
  }

  startPolling() {
    this.closeStream();
    this.mode = 'polling';
    this.polls = 0;
    this.schedule(0);
  }

  async pollOnce() {
    if (this.state === 'closed') return;
    try {
      const body = await getCasts({ ...this.scope, baseUrl: this.baseUrl, signal: this.aborter.signal });
      if (this.state === 'closed') return;
      this.setState('polling');
      if (this.apply(body)) return;
      this.polls++;
      if (typeof globalThis.EventSource === 'function' && this.polls % this.opt.pollsBeforeStreamRetry === 0) {
        // Give streaming another chance; one more failure comes back here.
        this.failures = this.opt.failuresBeforePolling - 1;
        this.connect();
        return;
      }
    } catch (err) {
      if (this.state === 'closed' || err?.name === 'AbortError') return;
      const e = err instanceof ApiError ? err : new ApiError(0, String(err));
      if ([400, 401, 403, 404, 429].includes(e.status)) {
        this.refused(e);
        return;
      }
      this.setState('reconnecting', { error: e });
    }
    this.schedule(this.opt.pollIntervalMs);
  }
}
