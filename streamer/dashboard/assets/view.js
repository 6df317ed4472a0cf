// Rendering: the Cast table, phase badges, toasts and the connection
// indicator. Everything is built with DOM calls and textContent, never
// parsed as HTML, so no Cast field can inject markup.

import { PHASES, clock, dateTime, duration, liveDuration, phaseLabel, phaseOf, safeURL } from './format.js';

/** el('td', {class: 'x', dataset: {label: 'Name'}}, child, 'text') */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** A coloured phase badge that also says the phase in words. */
export function badge(phase) {
  return el('span', { class: `badge phase-${phase.toLowerCase()}`, dataset: { phase } },
    el('span', { class: 'badge-glyph', 'aria-hidden': 'true', text: PHASES[phase]?.glyph ?? '•' }),
    el('span', { class: 'badge-text', text: phaseLabel(phase) }));
}

/** An external link that opens in a new tab without giving it this page. */
export function outLink(href, text, label) {
  const url = safeURL(href);
  if (!url) return el('span', { class: 'muted', text: '—' });
  return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', 'aria-label': label, class: 'out' },
    text, el('span', { class: 'out-mark', 'aria-hidden': 'true', text: ' ↗' }));
}

export function runText(snap) {
  if (!snap.runID) return '';
  return snap.runAttempt > 1 ? `#${snap.runID} · attempt ${snap.runAttempt}` : `#${snap.runID}`;
}

function timeEl(iso) {
  const text = dateTime(iso);
  return text ? el('time', { datetime: iso, text }) : el('span', { class: 'muted', text: '—' });
}

/** Newest first; Casts that have not started (Pending, Queued) on top. */
function compare(a, b) {
  const sa = a.snap.startedAt || '';
  const sb = b.snap.startedAt || '';
  if (sa !== sb) {
    if (!sa) return -1;
    if (!sb) return 1;
    return sa < sb ? 1 : -1;
  }
  return a.snap.castId.localeCompare(b.snap.castId);
}

/** The table of Casts, one row per castId, updated in place. */
export class CastTable {
  /** @param {HTMLTableSectionElement} tbody @param {(castId: string) => void} onOpen */
  constructor(tbody, onOpen) {
    this.tbody = tbody;
    this.rows = new Map();
    this.entries = new Map();
    tbody.addEventListener('click', (ev) => {
      if (ev.target.closest('a')) return;
      const tr = ev.target.closest('tr[data-cast-id]');
      if (tr) onOpen(tr.dataset.castId);
    });
    tbody.addEventListener('keydown', (ev) => {
      const tr = ev.target.closest('tr[data-cast-id]');
      if (!tr || ev.target !== tr) return;
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        onOpen(tr.dataset.castId);
      } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        const next = ev.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
        next?.focus();
      }
    });
  }

  get size() {
    return this.rows.size;
  }

  clear() {
    this.rows.clear();
    this.entries.clear();
    this.tbody.replaceChildren();
  }

  focusRow(castId) {
    const tr = this.rows.get(castId);
    if (tr) tr.focus();
    return Boolean(tr);
  }

  /** Adds or updates the row of entry {snap, receivedAt}. */
  render(entry, nowMono) {
    const { snap } = entry;
    const phase = phaseOf(snap);
    const old = this.entries.get(snap.castId);
    let tr = this.rows.get(snap.castId);
    if (!tr) {
      tr = this.createRow(snap.castId);
      this.rows.set(snap.castId, tr);
    }
    this.entries.set(snap.castId, entry);
    const c = tr.cells;
    tr.dataset.phase = phase;
    tr.setAttribute('aria-label', `${snap.name}, ${phaseLabel(phase)}, ${snap.progress || 0}%`);

    c[0].querySelector('.name').textContent = snap.name;
    c[0].querySelector('.ns').textContent = snap.namespace;
    if (c[1].firstElementChild?.dataset.phase !== phase) c[1].replaceChildren(badge(phase));

    const bar = c[2].querySelector('progress');
    const pct = Math.max(0, Math.min(100, Number(snap.progress) || 0));
    bar.value = pct;
    bar.className = `bar phase-${phase.toLowerCase()}`;
    bar.setAttribute('aria-label', `${snap.name} progress`);
    bar.setAttribute('aria-valuetext', `${pct}%${snap.message ? `, ${snap.message}` : ''}`);
    c[2].querySelector('.pct').textContent = `${pct}%`;
    const msg = c[2].querySelector('.msg');
    msg.textContent = snap.message || '';
    msg.title = snap.message || '';

    c[3].querySelector('.repo').textContent = snap.repository || '—';
    c[3].querySelector('.wf').textContent = snap.workflow || '';
    c[4].replaceChildren(snap.runID ? outLink(snap.runURL, runText(snap), `Run ${runText(snap)} of ${snap.name} on GitHub`) : el('span', { class: 'muted', text: '—' }));
    c[5].replaceChildren(timeEl(snap.startedAt));
    c[6].textContent = duration(liveDuration(entry, nowMono));

    if (!old || compare(old, entry) !== 0 || !tr.isConnected) this.sort();
  }

  remove(castId) {
    const tr = this.rows.get(castId);
    if (!tr) return;
    const hadFocus = tr.contains(document.activeElement);
    const next = tr.nextElementSibling || tr.previousElementSibling;
    tr.remove();
    this.rows.delete(castId);
    this.entries.delete(castId);
    if (hadFocus) next?.focus();
  }

  /** Moves rows into order, keeping keyboard focus where it was. */
  sort() {
    const focused = document.activeElement;
    const ordered = [...this.entries.values()].sort(compare).map((e) => this.rows.get(e.snap.castId));
    ordered.forEach((tr, i) => {
      if (this.tbody.children[i] !== tr) this.tbody.insertBefore(tr, this.tbody.children[i] || null);
    });
    if (focused && focused !== document.activeElement && this.tbody.contains(focused)) focused.focus();
  }

  /** Advances the durations of running Casts. */
  tick(nowMono) {
    for (const [id, entry] of this.entries) {
      if (phaseOf(entry.snap) === 'Running') this.rows.get(id).cells[6].textContent = duration(liveDuration(entry, nowMono));
    }
  }

  createRow(castId) {
    const cell = (label, ...kids) => el('td', { dataset: { label } }, ...kids);
    return el('tr', { tabindex: '0', dataset: { castId } },
      cell('Name', el('span', { class: 'name' }), el('span', { class: 'ns' })),
      cell('Phase'),
      cell('Progress', el('div', { class: 'progress' },
        el('progress', { max: '100', value: '0' }), el('span', { class: 'pct' })), el('span', { class: 'msg' })),
      cell('Repository', el('span', { class: 'repo' }), el('span', { class: 'wf' })),
      cell('Run'),
      cell('Started'),
      el('td', { class: 'num', dataset: { label: 'Duration' } }));
  }
}

const CONNECTION_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  polling: 'Live (polling every 5 s)',
  offline: 'Offline',
  stopped: 'Not connected',
};

/** The live / reconnecting / offline indicator in the top bar. */
export function setConnection(state) {
  const shown = navigator.onLine === false ? 'offline' : state;
  const box = document.getElementById('conn');
  if (box.dataset.state === shown) return;
  box.dataset.state = shown;
  document.getElementById('conn-text').textContent = CONNECTION_TEXT[shown] ?? shown;
}

export function setLastUpdate(date) {
  const out = document.getElementById('last-update');
  out.textContent = date ? `Last update ${clock(date)}` : '';
}

const MAX_TOASTS = 4;
const TOAST_MS = 6000;

/** A short notice in the polite live region, gone after a few seconds. */
export function toast(text, phase) {
  const region = document.getElementById('toasts');
  const node = el('div', { class: `toast phase-${phase.toLowerCase()}`, dataset: { phase } },
    el('span', { class: 'toast-glyph', 'aria-hidden': 'true', text: PHASES[phase]?.glyph ?? '•' }),
    el('span', { class: 'toast-text', text }));
  region.append(node);
  while (region.children.length > MAX_TOASTS) region.firstElementChild.remove();
  setTimeout(() => node.remove(), TOAST_MS);
}
