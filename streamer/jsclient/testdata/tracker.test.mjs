// The delivery rules of tracker.js, case for case those of the Go client
// (streamer/client/tracker_test.go, backoff_test.go), so both clients keep
// the same contract. Run by jsclient_test.go with `node --test`.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Tracker, backoffDelay, classify, parseRV, retryAfterSeconds } from '../tracker.js';

const ev = (type, name, rv) => {
  const id = String(rv);
  return { type, id, cast: { namespace: 'ns', name, resourceVersion: id } };
};

function offerAll(tr, want, ...evs) {
  evs.forEach((e, i) => assert.equal(tr.offer(e), want[i], `offer(${e.type} ${e.cast.name} rv ${e.id})`));
}

test('never goes back', () => {
  const tr = new Tracker();
  tr.begin('', false);
  offerAll(tr, [true, true, false, false, true, false],
    ev('status', 'a', 5), ev('progress', 'a', 7),
    ev('status', 'a', 6), // older than what was delivered
    ev('status', 'a', 7), // a duplicate from a resume
    ev('complete', 'a', 7), // the same state, now known final
    ev('complete', 'a', 7)); // and only once
});

test('deletions', () => {
  const tr = new Tracker();
  tr.begin('', false);
  offerAll(tr, [true, true, false, false, true, true],
    ev('status', 'a', 5), ev('deleted', 'a', 8),
    ev('status', 'a', 6), // a state from before the deletion
    ev('deleted', 'a', 9), // told already
    ev('status', 'a', 12), // created again
    ev('deleted', 'b', 3)); // never seen: still worth telling
});

test('a full snapshot reports ghosts', () => {
  const tr = new Tracker();
  tr.begin('', true);
  offerAll(tr, [true, true, true], ev('status', 'a', 5), ev('status', 'b', 6), ev('status', 'c', 7));
  assert.deepEqual(tr.synced('7', tr.ghostCandidates(), false), [], 'a first snapshot has no ghosts');

  tr.begin('10', true);
  offerAll(tr, [false, true], ev('status', 'a', 5), ev('status', 'd', 11));
  assert.equal(tr.needsCheck(), false, 'a state at or below Last-Event-ID proves a full snapshot');
  const ghosts = tr.ghostCandidates().sort();
  assert.deepEqual(ghosts, ['ns/b', 'ns/c']);
  const got = tr.synced('12', ghosts, false);
  assert.equal(got.length, 2);
  for (const e of got) {
    assert.equal(e.type, 'deleted');
    assert.equal(e.id, '12');
    assert.equal(e.cast.resourceVersion, '12');
    assert.equal(e.synthetic, true);
  }
  offerAll(tr, [false, false], ev('deleted', 'b', 13), ev('status', 'c', 7));
});

test('an exact resume has no ghosts', () => {
  const tr = new Tracker();
  tr.begin('', true);
  offerAll(tr, [true, true, true], ev('status', 'a', 5), ev('status', 'b', 6), ev('status', 'c', 7));
  tr.synced('7', [], false);
  tr.begin('7', true);
  offerAll(tr, [true, true], ev('status', 'a', 9), ev('deleted', 'b', 10));
  assert.deepEqual(tr.ghostCandidates(), [], 'a deletion proves an exact resume');
});

test('an ambiguous batch needs a check', () => {
  const tr = new Tracker();
  tr.begin('', true);
  offerAll(tr, [true, true], ev('status', 'a', 5), ev('status', 'b', 6));
  tr.synced('6', [], false);
  tr.begin('6', true);
  offerAll(tr, [true], ev('status', 'a', 8));
  assert.equal(tr.needsCheck(), true);
  assert.deepEqual(tr.ghostCandidates(), ['ns/b']);
  assert.deepEqual(tr.synced('8', [], false), []);
});

test('a full snapshot wins over newer states (etcd restore)', () => {
  const tr = new Tracker();
  tr.begin('', true);
  offerAll(tr, [true, true], ev('status', 'a', 5), ev('status', 'b', 6));
  tr.synced('7', tr.ghostCandidates(), true);
  offerAll(tr, [true, true, true, true], ev('complete', 'a', 10), ev('status', 'c', 11), ev('deleted', 'b', 12), ev('status', 'd', 13));
  tr.begin('13', true);
  tr.forget('ns/d', 14, false);
  offerAll(tr, [true, true], ev('status', 'a', 5), ev('status', 'b', 6));
  const ghosts = tr.ghostCandidates();
  assert.deepEqual(ghosts, ['ns/c']);
  assert.equal(tr.needsCheck(), false);
  const got = tr.synced('8', ghosts, true);
  assert.equal(got.length, 1);
  assert.equal(got[0].type, 'deleted');
  assert.equal(got[0].id, '8');
  offerAll(tr, [true, true, true, false, false],
    ev('status', 'a', 9), ev('status', 'c', 9), ev('status', 'd', 10), ev('status', 'b', 6), ev('progress', 'a', 9));
});

test('an older state outside a full answer is dropped', () => {
  const tr = new Tracker();
  tr.begin('', true);
  offerAll(tr, [true, true], ev('status', 'a', 5), ev('status', 'b', 9));
  tr.synced('9', [], true);
  offerAll(tr, [false], ev('status', 'b', 8));
  tr.begin('9', true);
  offerAll(tr, [true, true], ev('deleted', 'x', 10), ev('status', 'b', 11));
  tr.synced('11', tr.ghostCandidates(), false);
  offerAll(tr, [false, false], ev('status', 'a', 4), ev('status', 'b', 10));
});

test('a single Cast takes the restored state', () => {
  const tr = new Tracker();
  tr.begin('', false);
  offerAll(tr, [true, true], ev('status', 'a', 5), ev('complete', 'a', 10));
  tr.begin('10', false);
  offerAll(tr, [true, false, true], ev('status', 'a', 5), ev('status', 'a', 4), ev('complete', 'a', 7));
});

// A consumer that asked for some event types gets synthetic deletions
// only when it asked for deletions, and a filtered snapshot's silence
// about a Cast is never taken as its deletion without the list's word.
test('filtered snapshots and ghosts', () => {
  const outcomes = new Tracker(['complete', 'deleted']);
  outcomes.begin('', true);
  offerAll(outcomes, [true, true], ev('complete', 'a', 5), ev('complete', 'b', 6));
  outcomes.synced('6', outcomes.ghostCandidates(), true);
  // A full snapshot without a: a may be running again (a status, not
  // sent) or gone; only the list can tell.
  outcomes.begin('', true);
  offerAll(outcomes, [false], ev('complete', 'b', 6));
  assert.equal(outcomes.needsCheck(), true, 'a snapshot of outcomes only does not prove an unmentioned Cast gone');
  assert.deepEqual(outcomes.ghostCandidates(), ['ns/a']);

  const noDeletions = new Tracker(['status', 'complete']);
  noDeletions.begin('', true);
  offerAll(noDeletions, [true], ev('status', 'a', 5));
  noDeletions.synced('5', [], true);
  noDeletions.begin('', true);
  assert.deepEqual(noDeletions.ghostCandidates(), [], 'no ghosts without deletions asked for');
  assert.deepEqual(noDeletions.unseen(), ['ns/a'], 'a JSON list, which holds every Cast, still settles what is current');
  assert.equal(noDeletions.needsCheck(), false, 'a full snapshot of states holds every Cast');

  const everything = new Tracker();
  everything.begin('', true);
  assert.equal(everything.needsCheck(), false, 'a full snapshot of every type holds every Cast');
});

test('forget carries the last state and is told once', () => {
  const tr = new Tracker();
  tr.begin('', false);
  const first = ev('status', 'a', 5);
  first.cast.message = 'last words';
  tr.offer(first);
  const gone = tr.forget('ns/a', NaN, false);
  assert.equal(gone.cast.message, 'last words');
  assert.equal(gone.id, '5');
  assert.equal(tr.forget('ns/a', NaN, false), null);
  assert.equal(tr.forget('ns/never', NaN, false), null);
});

test('unordered versions are delivered', () => {
  const tr = new Tracker();
  tr.begin('', false);
  offerAll(tr, [true, true], ev('status', 'a', 'x'), ev('status', 'a', 'x'));
});

test('parseRV', () => {
  for (const [id, want] of [['12', 12], ['0', NaN], ['', NaN], ['-3', NaN], ['1e3', NaN], ['9999999999999999', NaN], [undefined, NaN]]) {
    assert.equal(Object.is(parseRV(id), want), true, `parseRV(${id}) = ${parseRV(id)}, want ${want}`);
  }
});

test('backoff with full jitter', () => {
  const s = 1000;
  for (const [name, attempt, initialMs, maxMs, rnd, want, retryAfterMs = 0] of [
    ['first retry, half jitter', 0, s, 30 * s, 0.5, 500],
    ['doubles per attempt', 1, s, 30 * s, 0.5, s],
    ['fourth retry', 4, s, 30 * s, 0.5, 8 * s],
    ['capped at max', 5, s, 30 * s, 0.5, 15 * s],
    ['capped far out', 100, s, 30 * s, 0.999, 29970],
    ['no overflow for huge attempts', 2 ** 20, 3600 * s, 7200 * s, 1, 7200 * s],
    ['full jitter reaches zero', 3, s, 30 * s, 0, 0],
    ['rnd at or above 1 is the ceiling', 2, s, 30 * s, 1.5, 4 * s],
    ['negative rnd is zero', 2, s, 30 * s, -0.2, 0],
    ['initial above max', 0, 10 * s, 5 * s, 1, 5 * s],
    ['no initial, no wait', 3, 0, 30 * s, 0.7, 0],
    ['Retry-After is the least wait', 0, s, 30 * s, 0.1, 5 * s, 5 * s],
  ]) {
    assert.equal(backoffDelay(attempt, { initialMs, maxMs, rnd, retryAfterMs }), want, name);
  }
});

test('Retry-After', () => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5);
  for (const [v, want] of [['', 0], ['7', 7], ['-3', 0], ['soon', 0], ['Fri, 02 Jan 2026 03:04:15 GMT', 10], ['Fri, 02 Jan 2026 03:00:00 GMT', 0]]) {
    assert.equal(retryAfterSeconds(v, now), want, `Retry-After ${JSON.stringify(v)}`);
  }
});

test('classify a polled state as the streamer would', () => {
  const base = { namespace: 'ns', name: 'a', status: 'Running', progress: 10, message: 'x', duration: 5, runID: 1 };
  for (const [name, prev, cast, want] of [
    ['first sight', undefined, base, 'status'],
    ['progress only', base, { ...base, progress: 20, message: 'y', duration: 9 }, 'progress'],
    ['phase changed', { ...base, status: 'Queued' }, base, 'status'],
    ['other field changed', base, { ...base, runID: 2 }, 'status'],
    ['terminal', base, { ...base, status: 'Succeeded' }, 'complete'],
  ]) {
    assert.equal(classify(prev, cast), want, name);
  }
});
