// The detail view's timeline: the jobs of the Cast's current attempt as
// rows, their steps inside with durations that tick while running, and how
// earlier attempts ended. It is updated in place, keyed by job id and step
// number, so keyboard focus and scroll position survive every event.

import { duration, phaseOf } from './format.js';
import { badge, el, outLink } from './view.js';

const $ = (id) => document.getElementById(id);

/**
 * GitHub's job and step states (a conclusion once completed, the status
 * before), in words and with a glyph, so no badge is colour-only. tone
 * borrows a phase's colours.
 */
const STATES = {
  success: { glyph: '✓', text: 'success', tone: 'succeeded' },
  failure: { glyph: '✗', text: 'failure', tone: 'failed', failed: true },
  startup_failure: { glyph: '✗', text: 'startup failure', tone: 'failed', failed: true },
  timed_out: { glyph: '◷', text: 'timed out', tone: 'timedout', failed: true },
  cancelled: { glyph: '⊘', text: 'cancelled', tone: 'cancelled' },
  skipped: { glyph: '↷', text: 'skipped', tone: 'pending' },
  neutral: { glyph: '–', text: 'neutral', tone: 'pending' },
  action_required: { glyph: '!', text: 'action required', tone: 'timedout' },
  in_progress: { glyph: '●', text: 'running', tone: 'running', running: true },
  queued: { glyph: '○', text: 'queued', tone: 'pending' },
  pending: { glyph: '○', text: 'queued', tone: 'pending' },
  waiting: { glyph: '◔', text: 'waiting', tone: 'queued' },
  completed: { glyph: '✓', text: 'done', tone: 'cancelled' },
};

/** The state key of a job or step: its conclusion once completed. */
function stateOf(item) {
  const key = item.status === 'completed' ? item.conclusion || 'completed' : item.status || 'queued';
  return /^[a-z_]{1,32}$/.test(key) ? key : 'queued';
}

function stateInfo(key) {
  return STATES[key] ?? { glyph: '•', text: key.replaceAll('_', ' '), tone: 'pending' };
}

/** A badge saying a job's or step's state in words, coloured by its tone. */
function stateBadge(key) {
  const s = stateInfo(key);
  return el('span', { class: `badge tl-badge phase-${s.tone}`, dataset: { state: key } },
    el('span', { class: 'badge-glyph', 'aria-hidden': 'true', text: s.glyph }),
    el('span', { class: 'badge-text', text: s.text }));
}

const ms = (iso) => (iso ? Date.parse(iso) : NaN);

/** "1m 04s" from start to end; "0s" for a step quicker than a second. */
function span(start, end) {
  if (!Number.isFinite(start) || !Number.isFinite(end)) return '—';
  return end - start < 1000 && end >= start ? '0s' : duration(end - start);
}

const plural = (n, one) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** The jobs timeline of the Cast detail; one instance for the page. */
export class Timeline {
  constructor() {
    this.list = $('timeline-jobs');
    /** job id → {li, head parts, steps: Map(number → li)} */
    this.jobs = new Map();
    this.reset();
  }

  /** Empties it for another Cast: its first failure is focused again. */
  reset() {
    this.jobs.clear();
    this.list.replaceChildren();
    this.states = null;
    this.focused = '';
    this.attempts = '';
    this.clock = null;
    $('timeline-title').textContent = 'Jobs';
    $('timeline-empty').hidden = true;
    $('timeline-omitted').hidden = true;
    $('timeline-attempts').replaceChildren();
    $('timeline-attempts').hidden = true;
    $('timeline-announce').textContent = '';
  }

  /**
   * The streamer's time now: the snapshot's timestamp plus the time since
   * it arrived on this machine's monotonic clock, so a skewed wall clock
   * here does not skew durations.
   */
  now(nowMono) {
    const c = this.clock;
    if (!c) return Date.now();
    return c.base + Math.max(0, nowMono - c.receivedAt);
  }

  /** Renders entry {snap, receivedAt}'s jobs and earlier attempts. */
  render(entry, nowMono) {
    const { snap, receivedAt } = entry;
    const base = ms(snap.timestamp);
    this.clock = { base: Number.isFinite(base) ? base : Date.now(), receivedAt };
    const now = this.now(nowMono);
    const jobs = Array.isArray(snap.jobs) ? snap.jobs : [];

    $('timeline-title').textContent = snap.runAttempt > 1 ? `Jobs · attempt ${snap.runAttempt}` : 'Jobs';
    $('timeline-empty').hidden = jobs.length > 0;
    $('timeline-empty').textContent = snap.runID ? 'No jobs reported yet' : 'No jobs until the run is dispatched';
    const omitted = Number(snap.jobsOmitted) || 0;
    $('timeline-omitted').hidden = omitted <= 0;
    $('timeline-omitted').textContent = `${plural(omitted, 'job')} not shown`;
    this.renderAttempts(snap.previousAttempts);

    const seen = new Set();
    const order = [];
    for (const job of jobs) {
      const id = String(job.id);
      if (seen.has(id)) continue;
      seen.add(id);
      let row = this.jobs.get(id);
      if (!row) {
        row = this.createJob(id);
        this.jobs.set(id, row);
      }
      this.updateJob(row, job, now);
      order.push(row.li);
    }
    for (const [id, row] of this.jobs) {
      if (!seen.has(id)) {
        row.li.remove();
        this.jobs.delete(id);
      }
    }
    order.forEach((li, i) => {
      if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] || null);
    });

    this.announce(jobs);
    this.focusFailure();
  }

  /** Advances the durations of running jobs and steps. */
  tick(nowMono) {
    if (!this.clock) return;
    const now = this.now(nowMono);
    for (const out of this.list.querySelectorAll('.tl-dur[data-since]')) {
      out.textContent = span(Number(out.dataset.since), now);
    }
  }

  createJob(id) {
    const name = el('h3', { class: 'tl-job-name', id: `tl-job-${id}` });
    const runner = el('span', { class: 'tl-runner' });
    const state = el('span', { class: 'tl-state' });
    const dur = el('span', { class: 'tl-dur' });
    const log = el('span', { class: 'tl-log' });
    const steps = el('ol', { class: 'tl-steps' });
    const omitted = el('p', { class: 'tl-omitted', hidden: true });
    const li = el('li', { class: 'tl-job', dataset: { jobId: id } },
      el('div', { class: 'tl-job-head' }, el('div', { class: 'tl-job-title' }, name, runner), state, dur, log),
      steps, omitted);
    return { li, name, runner, state, dur, log, steps, omitted, byNumber: new Map() };
  }

  updateJob(row, job, now) {
    const key = stateOf(job);
    const name = job.name || `Job ${job.id}`;
    row.li.dataset.state = key;
    row.li.classList.toggle('failed', Boolean(stateInfo(key).failed));
    row.name.textContent = name;
    row.runner.textContent = Array.isArray(job.labels) ? job.labels.join(', ') : '';
    if (row.state.firstElementChild?.dataset.state !== key) row.state.replaceChildren(stateBadge(key));
    setDuration(row.dur, job, key, now);
    const log = `${job.url || ''} ${name}`;
    if (row.log.dataset.key !== log) {
      row.log.dataset.key = log;
      row.log.replaceChildren(job.url ? outLink(job.url, 'Log', `Log of job ${name} on GitHub`) : '');
    }

    const steps = Array.isArray(job.steps) ? job.steps : [];
    row.steps.hidden = steps.length === 0;
    row.steps.setAttribute('aria-label', `Steps of ${name}`);
    const seen = new Set();
    const order = [];
    for (const step of steps) {
      const n = String(step.number);
      if (seen.has(n)) continue;
      seen.add(n);
      let li = row.byNumber.get(n);
      if (!li) {
        li = createStep(row.li.dataset.jobId, n);
        row.byNumber.set(n, li);
      }
      updateStep(li, step, now);
      order.push(li);
    }
    for (const [n, li] of row.byNumber) {
      if (!seen.has(n)) {
        li.remove();
        row.byNumber.delete(n);
      }
    }
    order.forEach((li, i) => {
      if (row.steps.children[i] !== li) row.steps.insertBefore(li, row.steps.children[i] || null);
    });
    const omitted = Number(job.stepsOmitted) || 0;
    row.omitted.hidden = omitted <= 0;
    row.omitted.textContent = `${plural(omitted, 'step')} not shown`;
  }

  /** Earlier attempts, newest first; rebuilt only when they change, so a focused link keeps focus. */
  renderAttempts(prev) {
    const box = $('timeline-attempts');
    const list = Array.isArray(prev) ? [...prev].reverse() : [];
    const key = JSON.stringify(list);
    if (key === this.attempts) return;
    this.attempts = key;
    box.hidden = list.length === 0;
    box.replaceChildren(...list.map((a) => {
      const phase = phaseOf({ status: a.phase });
      const took = span(ms(a.startedAt), ms(a.finishedAt));
      return el('li', { class: 'tl-attempt', dataset: { attempt: String(a.attempt) } },
        el('span', { class: 'tl-attempt-name', text: `Attempt ${a.attempt}` }),
        badge(phase),
        a.conclusion ? el('span', { class: 'muted', text: `(${a.conclusion})` }) : null,
        took !== '—' ? el('span', { class: 'muted tl-attempt-took', text: took }) : null,
        a.url ? outLink(a.url, 'Run', `Attempt ${a.attempt} on GitHub`) : null);
    }));
  }

  /**
   * Tells screen readers when a job finishes, once: never the ticking
   * durations or a step's progress, which would drown everything else.
   */
  announce(jobs) {
    const next = new Map(jobs.map((j) => [String(j.id), stateOf(j)]));
    const before = this.states;
    this.states = next;
    if (!before) return;
    const news = [];
    for (const job of jobs) {
      const key = next.get(String(job.id));
      const old = before.get(String(job.id));
      if (old === key || job.status !== 'completed') continue;
      const failedStep = (job.steps || []).find((s) => stateInfo(stateOf(s)).failed);
      news.push(failedStep
        ? `Job ${job.name} failed at step ${failedStep.name}.`
        : `Job ${job.name}: ${stateInfo(key).text}.`);
    }
    if (news.length) $('timeline-announce').textContent = news.join(' ');
  }

  /**
   * Moves focus to the first failed step (or failed job without one) the
   * first time it shows, and scrolls it into view: after a failure
   * arrives, and when the view opens on a failed Cast. The deferral runs
   * after the view's own focus on its title.
   */
  focusFailure() {
    const target = this.list.querySelector('.tl-step.failed') ?? this.list.querySelector('.tl-job.failed .tl-job-name');
    if (!target) return;
    const key = target.id;
    if (key === this.focused) return;
    this.focused = key;
    target.tabIndex = -1;
    requestAnimationFrame(() => {
      if (!target.isConnected || $('detail-view').hidden || document.querySelector('dialog[open]')) return;
      target.scrollIntoView({ block: 'center' });
      target.focus({ preventScroll: true });
    });
  }
}

function createStep(jobId, n) {
  return el('li', { class: 'tl-step', id: `tl-step-${jobId}-${n}`, dataset: { number: n } },
    el('span', { class: 'tl-step-num' }, el('span', { class: 'visually-hidden', text: 'Step ' }), n),
    el('span', { class: 'tl-step-name' }),
    el('span', { class: 'tl-state' }),
    el('span', { class: 'tl-dur' }));
}

function updateStep(li, step, now) {
  const key = stateOf(step);
  const [, name, state, dur] = li.children;
  li.dataset.state = key;
  const failed = Boolean(stateInfo(key).failed);
  li.classList.toggle('failed', failed);
  li.classList.toggle('phase-failed', failed);
  name.textContent = step.name || `Step ${step.number}`;
  if (state.firstElementChild?.dataset.state !== key) state.replaceChildren(stateBadge(key));
  setDuration(dur, step, key, now);
}

/** A finished item's time, or a running one's, which tick() advances. */
function setDuration(out, item, key, now) {
  const start = ms(item.startedAt);
  const end = ms(item.completedAt);
  if (stateInfo(key).running && Number.isFinite(start) && !Number.isFinite(end)) {
    out.dataset.since = String(start);
    out.textContent = span(start, now);
    return;
  }
  delete out.dataset.since;
  out.textContent = span(start, end);
}
