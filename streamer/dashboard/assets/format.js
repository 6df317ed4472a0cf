// Formatting helpers: pure functions, no DOM.

/** Phases in lifecycle order, with a glyph so the badge is not colour-only. */
export const PHASES = {
  Pending: { glyph: '○', terminal: false },
  Queued: { glyph: '◔', terminal: false },
  Running: { glyph: '▶', terminal: false },
  Succeeded: { glyph: '✓', terminal: true },
  Failed: { glyph: '✕', terminal: true },
  Cancelled: { glyph: '⊘', terminal: true },
  TimedOut: { glyph: '◷', terminal: true },
};

/** The phase shown for a snapshot: unknown values read as Pending. */
export function phaseOf(snap) {
  return Object.hasOwn(PHASES, snap.status) ? snap.status : 'Pending';
}

export function isTerminal(phase) {
  return PHASES[phase]?.terminal === true;
}

/** Human phase name: "TimedOut" reads "Timed out". */
export function phaseLabel(phase) {
  return phase === 'TimedOut' ? 'Timed out' : phase;
}

const pad = (n) => String(n).padStart(2, '0');

/** HH:MM:SS in local time, for "last update". */
export function clock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** "2026-07-14 09:12" in local time; "" for no date. */
export function dateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "4m 05s", "2h 03m", "12s"; "—" when there is nothing to show. */
export function duration(ms) {
  if (!Number.isFinite(ms) || ms <= 0) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${pad(h % 24)}h`;
}

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

/** costCents → "$12.34". */
export function cost(cents) {
  return usd.format((Number(cents) || 0) / 100);
}

/** 1536 → "1.5 KiB". */
export function bytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * Only web links become hrefs: a Cast's status is written by a controller
 * from GitHub data, but a page must not trust it with javascript: URLs.
 */
export function safeURL(raw) {
  if (typeof raw !== 'string' || raw === '') return '';
  try {
    const u = new URL(raw, document.baseURI);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : '';
  } catch {
    return '';
  }
}

/** Kubernetes namespace names (DNS-1123 labels). */
export function validNamespace(ns) {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) && ns.length <= 63;
}

/**
 * The duration to show now: the server's value, plus, for a running Cast,
 * the time since the snapshot arrived (measured on this machine's monotonic
 * clock, so a skewed wall clock does not matter).
 */
export function liveDuration(entry, nowMono) {
  const { snap, receivedAt } = entry;
  const base = Number(snap.duration) || 0;
  if (phaseOf(snap) === 'Running' && snap.startedAt && !snap.finishedAt) {
    return base + Math.max(0, nowMono - receivedAt);
  }
  return base;
}

/**
 * The connection state the page shows: the client's, except that a closed
 * subscription is 'finished' when its Cast is done and 'stopped' when the
 * streamer refused.
 */
export function shownState(state, info) {
  if (state !== 'closed') return state;
  return info.reason === 'complete' || info.reason === 'deleted' ? 'finished' : 'stopped';
}

/** A 429 in words: too many open streams (err.streams), or too many requests. */
export function tooManyText(err) {
  const s = err.streams;
  if (s) {
    return `Too many open streams (${s.open} of ${s.max}) for ${s.user} — close other dashboard tabs or CLIs; retrying in ${err.retryAfter} s.`;
  }
  return `Too many requests — retrying in ${err.retryAfter} s.`;
}

/** "forbidden: user … cannot …" reads better without the first word. */
export function withoutPrefix(message) {
  return message.replace(/^forbidden:\s*/i, '');
}
