// Cancel and re-run buttons on a Cast's detail view. The streamer says
// which ones the signed-in user may use (it asks the API server's RBAC);
// it carries an action out with the user's own token, and the outcome
// arrives through the detail's stream like any other change.

import { ApiError, act, fetchActions } from './api.js';
import { toast } from './view.js';

const $ = (id) => document.getElementById(id);

const BUTTONS = [
  {
    id: 'action-cancel', key: 'cancel', path: 'cancel', body: {},
    title: 'Cancel this run?',
    text: (d, attempt) => `The run of ${d.name} (attempt ${attempt}) stops on GitHub. The Cast is kept, and ends Cancelled.`,
    confirm: 'Cancel run', done: 'Cancel requested',
  },
  {
    id: 'action-rerun', key: 'rerun', path: 'rerun', body: { failedOnly: false },
    title: 'Re-run all jobs?',
    text: (d, attempt) => `Every job of ${d.name} runs again on GitHub as attempt ${attempt + 1}.`,
    confirm: 'Re-run all jobs', done: 'Re-run requested',
  },
  {
    id: 'action-rerun-failed', key: 'rerunFailed', path: 'rerun', body: { failedOnly: true },
    title: 'Re-run failed jobs?',
    text: (d, attempt) => `The failed jobs of ${d.name} run again on GitHub as attempt ${attempt + 1}.`,
    confirm: 'Re-run failed jobs', done: 'Re-run of failed jobs requested',
  },
];

/**
 * Actions owns the buttons of the open detail, and #action-alert, where a
 * refusal is explained in words; onExpired is called when the session
 * lapsed (401).
 */
export class Actions {
  constructor({ onExpired }) {
    this.onExpired = onExpired;
    this.detail = null;
    this.attempt = 1;
    this.stateKey = '';
    this.pending = null;
    for (const b of BUTTONS) $(b.id).addEventListener('click', () => this.ask(b));
    // OK acts at once; any other close (Keep, Escape, leaving the route)
    // drops the question. A close event is dispatched after the fact, so
    // one from Escape may arrive after the dialog was opened again: it
    // leaves an open dialog's question alone.
    $('confirm-ok').addEventListener('click', () => {
      const p = this.pending;
      this.pending = null;
      $('confirm-dialog').close('ok');
      this.confirmed(p);
    });
    $('confirm-keep').addEventListener('click', () => $('confirm-dialog').close(''));
    $('confirm-dialog').addEventListener('close', () => {
      if ($('confirm-dialog').open || !this.pending) return;
      const p = this.pending;
      this.pending = null;
      $(p.b.id)?.focus();
    });
    // Leaving the page's route (the back button) ends an open question;
    // the next detail calls open, which starts its buttons afresh.
    window.addEventListener('hashchange', () => {
      if ($('confirm-dialog').open) $('confirm-dialog').close('');
    });
  }

  /** Shows no button until the streamer has answered for detail. */
  open(detail) {
    this.detail = detail;
    $('action-alert').hidden = true;
    this.stateKey = '';
    this.hideAll();
  }

  /** Asks again whenever the Cast's phase or attempt changes. */
  update(snap) {
    const key = `${snap.status}/${snap.runAttempt}`;
    this.attempt = Math.max(1, Number(snap.runAttempt) || 1);
    if (key === this.stateKey || !this.detail) return;
    this.stateKey = key;
    this.refresh();
  }

  async refresh() {
    const detail = this.detail;
    let perms;
    try {
      perms = await fetchActions(detail);
    } catch {
      // Without an answer no button is shown; reading still works.
      if (detail === this.detail) this.hideAll();
      return;
    }
    if (detail !== this.detail) return;
    let any = false;
    for (const b of BUTTONS) {
      const allowed = Boolean(perms[b.key]?.allowed);
      $(b.id).hidden = !allowed;
      $(b.id).disabled = false;
      any ||= allowed;
    }
    $('detail-actions').hidden = !any;
  }

  hideAll() {
    for (const b of BUTTONS) $(b.id).hidden = true;
    $('detail-actions').hidden = true;
  }

  /** Opens the confirmation dialog; the native modal dialog traps focus and closes on Escape. */
  ask(b) {
    if (!this.detail) return;
    this.pending = { b, detail: this.detail };
    $('confirm-title').textContent = b.title;
    $('confirm-text').textContent = b.text(this.detail, this.attempt);
    $('confirm-ok').textContent = b.confirm;
    $('confirm-dialog').returnValue = '';
    $('confirm-dialog').showModal();
    $('confirm-keep').focus();
  }

  /** Sends the confirmed action p, unless the detail it was asked on has gone. */
  async confirmed(p) {
    if (!p || p.detail !== this.detail) {
      $(p?.b.id ?? 'detail-title')?.focus();
      return;
    }
    const button = $(p.b.id);
    button.disabled = true;
    try {
      await act(p.detail, p.b.path, p.b.body);
      $('action-alert').hidden = true;
      // The outcome arrives through the stream; this says it was asked.
      toast(`${p.b.done} for ${p.detail.name}.`, 'Pending');
    } catch (err) {
      this.failed(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      button.disabled = false;
      button.focus();
    }
  }

  /** Explains a refusal in words (the streamer's, often the API server's) and asks again what is allowed. */
  failed(err) {
    if (err.status === 401) {
      this.onExpired();
      return;
    }
    const box = $('action-alert');
    box.textContent = err.status === 0 ? `${err.message}; nothing was changed.` : err.message;
    box.hidden = false;
    this.stateKey = '';
    this.refresh();
  }
}
