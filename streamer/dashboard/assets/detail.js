// The detail view of one Cast, fed by its single-Cast stream.

import { bytes, cost, dateTime, duration, liveDuration, phaseLabel, phaseOf, safeURL } from './format.js';
import { Timeline } from './timeline.js';
import { badge, el, outLink, runText } from './view.js';

const $ = (id) => document.getElementById(id);

const timeline = new Timeline();

const STREAM_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  polling: 'Live (polling)',
  finished: 'Final state',
  stopped: '',
};

/** Clears the view for a Cast about to load. */
export function resetDetail(namespace, name) {
  $('detail-title').textContent = name;
  $('detail-namespace').textContent = `Namespace ${namespace}`;
  $('detail-phase').replaceChildren();
  $('detail-progress').value = 0;
  $('detail-progress-label').textContent = '';
  $('detail-message').textContent = 'Loading…';
  $('detail-facts').replaceChildren();
  $('detail-artifacts').replaceChildren();
  $('detail-labels').replaceChildren();
  $('labels-title').hidden = true;
  $('detail-view').dataset.stream = '';
  $('detail-stream').textContent = '';
  timeline.reset();
  hideDetailAlert();
}

export function setDetailStream(state, info = {}) {
  const view = $('detail-view');
  view.dataset.stream = state;
  let text = STREAM_TEXT[state] ?? '';
  if (state === 'finished' && info.deleted) text = 'Deleted';
  $('detail-stream').textContent = text;
}

export function showDetailAlert(text, kind = 'error') {
  const box = $('detail-alert');
  box.className = `alert alert-${kind}`;
  box.textContent = text;
  box.hidden = false;
}

export function hideDetailAlert() {
  $('detail-alert').hidden = true;
}

function fact(term, ...value) {
  return [el('dt', { text: term }), el('dd', {}, ...value)];
}

/** Renders entry {snap, receivedAt}. */
export function renderDetail(entry, nowMono) {
  const { snap } = entry;
  const phase = phaseOf(snap);
  const pct = Math.max(0, Math.min(100, Number(snap.progress) || 0));
  $('detail-view').dataset.phase = phase;
  $('detail-title').textContent = snap.name;
  $('detail-namespace').textContent = `Namespace ${snap.namespace}`;
  if ($('detail-phase').firstElementChild?.dataset.phase !== phase) $('detail-phase').replaceChildren(badge(phase));

  const bar = $('detail-progress');
  bar.value = pct;
  bar.className = `bar bar-large phase-${phase.toLowerCase()}`;
  bar.setAttribute('aria-valuetext', `${pct}%${snap.message ? `, ${snap.message}` : ''}`);
  $('detail-progress-label').textContent = `${pct}%`;
  $('detail-message').textContent = snap.message || (phase === 'Pending' ? 'Waiting to be dispatched' : '');

  const run = snap.runID ? outLink(snap.runURL, runText(snap), `Run ${runText(snap)} on GitHub`) : el('span', { class: 'muted', text: 'not dispatched yet' });
  $('detail-facts').replaceChildren(
    ...fact('Phase', phaseLabel(phase), snap.conclusion ? el('span', { class: 'muted', text: ` (conclusion: ${snap.conclusion})` }) : ''),
    ...fact('Repository', snap.repository || '—'),
    ...fact('Workflow', snap.workflow || '—'),
    ...fact('Run', run),
    ...fact('Started', dateTime(snap.startedAt) || '—'),
    ...fact('Finished', dateTime(snap.finishedAt) || '—'),
    ...fact('Duration', el('span', { id: 'detail-duration', text: duration(liveDuration(entry, nowMono)) })),
    ...fact('Cost', el('span', { id: 'detail-cost', text: snap.costCents ? cost(snap.costCents) : '—' })),
    ...fact('Resource version', el('code', { text: snap.resourceVersion || '—' })),
  );

  const arts = (snap.artifacts || []).map((a) => {
    const url = safeURL(a.url);
    const name = url
      ? el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', download: '', text: a.name })
      : el('span', { text: a.name });
    return el('li', {}, name, el('span', { class: 'muted size', text: a.sizeBytes ? bytes(a.sizeBytes) : '' }));
  });
  timeline.render(entry, nowMono);

  $('detail-artifacts').replaceChildren(...(arts.length ? arts : [el('li', { class: 'muted', text: 'No artifacts yet' })]));

  const labels = Object.entries(snap.labels || {}).sort(([a], [b]) => a.localeCompare(b));
  $('labels-title').hidden = labels.length === 0;
  $('detail-labels').replaceChildren(...labels.map(([k, v]) => el('li', { class: 'chip', text: `${k}=${v}` })));
}

export function tickDetail(entry, nowMono) {
  const out = $('detail-duration');
  if (out && entry && phaseOf(entry.snap) === 'Running') out.textContent = duration(liveDuration(entry, nowMono));
  timeline.tick(nowMono);
}
