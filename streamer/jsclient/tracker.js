// The delivery rules of a subscription, without I/O, so each is tested on
// its own (testdata/tracker.test.mjs). They are the Go client's
// (streamer/client/tracker.go), rule for rule: a page and a program that
// follow the same Casts are told the same things.

/** Event types that carry a Cast; `synced` is not one of them. */
export const CAST_EVENTS = Object.freeze(['status', 'progress', 'complete', 'deleted']);

/** Phases after which a run never changes again (until a re-run). */
const TERMINAL = new Set(['Succeeded', 'Failed', 'Cancelled', 'TimedOut']);

export const isTerminalPhase = (phase) => TERMINAL.has(phase);

/** "namespace/name": the key Casts are told apart by, as castId on the wire. */
export const keyOf = (cast) => `${cast.namespace}/${cast.name}`;

/**
 * A resourceVersion as the number etcd makes it; NaN for anything else
 * (a different store's opaque version), which is then delivered unordered.
 */
export function parseRV(id) {
  if (typeof id !== 'string' || !/^[0-9]{1,15}$/.test(id)) return NaN;
  const n = Number(id);
  return n > 0 ? n : NaN;
}

const terminalKind = (kind) => kind === 'complete' || kind === 'deleted';

/**
 * How long to wait before reconnection attempt `attempt` (0 for the first
 * retry): a share `rnd` ∈ [0, 1) of a ceiling that doubles per attempt up
 * to maxMs ("full jitter"), so the clients one streamer restart cuts off do
 * not all come back at once; never less than the server's Retry-After.
 */
export function backoffDelay(attempt, { initialMs = 1000, maxMs = 30000, retryAfterMs = 0, rnd = Math.random() } = {}) {
  if (!(initialMs > 0) || !(maxMs > 0)) return Math.max(0, retryAfterMs);
  let ceiling = initialMs;
  for (let i = 0; i < attempt && ceiling < maxMs; i++) ceiling *= 2;
  ceiling = Math.min(ceiling, maxMs);
  return Math.max(Math.floor(Math.min(Math.max(rnd, 0), 1) * ceiling), retryAfterMs);
}

/** A Retry-After header in seconds (number or HTTP date) relative to nowMs; 0 when absent or unreadable. */
export function retryAfterSeconds(value, nowMs = Date.now()) {
  if (!value) return 0;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const when = Date.parse(value);
  return Number.isNaN(when) ? 0 : Math.max(0, Math.ceil((when - nowMs) / 1000));
}

/**
 * The event type a polled state stands for, given the last state told:
 * what the streamer would have sent (its hub's Classify), so polling
 * clients see the same handlers fire.
 */
export function classify(prev, cast) {
  if (isTerminalPhase(cast.status)) return 'complete';
  if (!prev || prev.status !== cast.status) return 'status';
  const same = (a, b) => JSON.stringify({ ...a, progress: 0, message: '', timestamp: '', resourceVersion: '', duration: 0 }) ===
    JSON.stringify({ ...b, progress: 0, message: '', timestamp: '', resourceVersion: '', duration: 0 });
  return same(prev, cast) ? 'progress' : 'status';
}

/**
 * Tracker enforces the delivery contract across connections: per Cast,
 * resourceVersions only go up, except that a full snapshot wins (the API
 * server's history can go back: an etcd restore), and after a full
 * snapshot the Casts it no longer holds are reported deleted.
 */
export class Tracker {
  /** events: the types the consumer asked for (?events=); every type when omitted. */
  constructor(events = CAST_EVENTS) {
    this.kinds = new Set(events);
    /** key → {rv, kind, deleted, cast}: what the consumer was last told. */
    this.casts = new Map();
    this.initial = false;
    this.sentRV = NaN;
    this.seen = new Set();
    this.full = false;
    this.exact = false;
    this.first = false;
  }

  /** Starts a connection that sent lastId; collections have an initial batch ending with `synced`. */
  begin(lastId, collection) {
    this.initial = collection;
    this.sentRV = parseRV(lastId);
    this.seen = new Set();
    // Without an id, what the server sends is everything there is.
    this.full = Number.isNaN(this.sentRV);
    this.exact = false;
    this.first = !collection;
  }

  /** Whether an event ({type, id, cast}, never synced) reaches the consumer; records it if so. */
  offer({ type, id, cast }) {
    const key = keyOf(cast);
    const rv = parseRV(id);
    const sentOK = !Number.isNaN(this.sentRV);
    // answer: part of the server's whole state now, which wins even over a
    // newer state the consumer was told (an etcd restore).
    let answer = false;
    if (this.initial) {
      this.seen.add(key);
      if (type === 'deleted') this.exact = true; // full snapshots hold no deletions
      else if (sentOK && rv <= this.sentRV) this.full = true; // an exact resume sends only newer states
      answer = this.full && type !== 'deleted';
    } else if (this.first) {
      answer = sentOK && rv <= this.sentRV && type !== 'deleted';
    }
    this.first = false;
    if (Number.isNaN(rv)) return true; // unordered: deliver rather than lose the latest state
    const st = this.casts.get(key);
    if (!st || rv > st.rv) {
      if (st && st.deleted && type === 'deleted') {
        st.rv = rv; // told already
        return false;
      }
    } else if (rv === st.rv && terminalKind(type) && type !== st.kind && !st.deleted) {
      // The same state, now marked final: say so, so nobody waits for "complete".
    } else if (!(answer && rv < st.rv)) {
      return false;
    }
    const deleted = type === 'deleted';
    // A deleted Cast needs only its rv, so long subscriptions stay small.
    this.casts.set(key, { rv, kind: type, deleted, cast: deleted ? null : cast });
    return true;
  }

  /**
   * Whether a full snapshot holds every Cast: it sends each state as
   * status or complete, so one that leaves either out may skip a Cast
   * that still exists.
   */
  whole() {
    return this.kinds.has('status') && this.kinds.has('complete');
  }

  /** Live Casts the current batch (or a JSON list) did not mention. */
  unseen() {
    const out = [];
    for (const [key, st] of this.casts) if (!st.deleted && !this.seen.has(key)) out.push(key);
    return out;
  }

  /**
   * Live Casts the current initial batch did not mention; none when it is
   * known to be an exact resume, where an unmentioned Cast simply did not
   * change, and when the consumer did not ask for deletions, which ghosts
   * would only be reported as.
   */
  ghostCandidates() {
    return this.exact || !this.kinds.has('deleted') ? [] : this.unseen();
  }

  /**
   * Whether ghost candidates could be Casts that still exist rather than
   * deleted ones: the batch proved neither full nor exact, or it leaves
   * out the Casts whose state is of a type not asked for.
   */
  needsCheck() {
    return (!this.full && !this.exact) || !this.whole();
  }

  /**
   * Ends the initial batch, turning ghosts into deletions with the synced
   * id. full: the server said it sent a full snapshot; its id is then where
   * the server's history stands, even below ids seen before.
   */
  synced(syncedId, ghosts, full) {
    this.initial = false;
    full = full || this.full;
    const rv = parseRV(syncedId);
    const at = full && !Number.isNaN(rv);
    const out = [];
    for (const key of ghosts) {
      const ev = this.forget(key, rv, at);
      if (ev) out.push(ev);
    }
    if (at) for (const [key, st] of this.casts) if (st.deleted && !this.seen.has(key)) st.rv = rv;
    return out;
  }

  /** Records that a known Cast is gone; the synthetic deletion (with its last state) or null. */
  forget(key, rv, at) {
    const st = this.casts.get(key);
    if (!st || st.deleted) return null;
    const newRV = at ? rv : Math.max(st.rv, Number.isNaN(rv) ? 0 : rv);
    const cast = { ...st.cast, resourceVersion: String(newRV) };
    this.casts.set(key, { rv: newRV, kind: 'deleted', deleted: true, cast: null });
    return { type: 'deleted', id: cast.resourceVersion, cast, synthetic: true };
  }
}
