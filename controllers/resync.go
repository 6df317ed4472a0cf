package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// touch notes that the Cast just had news, postponing its next resync.
func (r *CastReconciler) touch(cast *castv1alpha1.Cast, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastNews[cast.UID] = now
}

// postponeResync puts the Cast's next resync off until at, when the
// budget or a credential problem said to wait.
func (r *CastReconciler) postponeResync(cast *castv1alpha1.Cast, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.postponed[cast.UID] = at
}

// resyncInterval is how long a running Cast may go without news: long
// while its repository's webhook delivers, short when it does not (never
// configured, broken, or lost deliveries).
func (r *CastReconciler) resyncInterval(cast *castv1alpha1.Cast) time.Duration {
	if r.Activity.Flowing(cast.Spec.Repository) {
		return r.WebhookResyncInterval
	}
	return r.ResyncInterval
}

// resyncDue: no news for the resync interval, or none since this process
// started, which is how a restarted operator converges.
func (r *CastReconciler) resyncDue(cast *castv1alpha1.Cast, now time.Time) bool {
	interval := r.resyncInterval(cast)
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.postponed[cast.UID]; ok {
		if now.Before(at) {
			return false
		}
		delete(r.postponed, cast.UID)
	}
	last, ok := r.lastNews[cast.UID]
	return !ok || now.Sub(last) >= interval
}

// nextWake is when a running Cast needs another look without any event:
// its next resync or its timeout, whichever comes first.
func (r *CastReconciler) nextWake(cast *castv1alpha1.Cast, now time.Time) time.Duration {
	w := wakeInputs{Now: now, Interval: wait.Jitter(r.resyncInterval(cast), 0.1)}
	r.mu.Lock()
	w.LastNews = r.lastNews[cast.UID]
	w.Postponed = r.postponed[cast.UID]
	r.mu.Unlock()
	w.Deadline, _ = timeoutDeadline(cast)
	return onWakeGrid(wakeAfter(w), w, r.resyncInterval(cast))
}

// wakeGridDivisor sets the grid idle looks are gathered on: a 64th of the
// resync interval (under a second at the 60 s default).
const wakeGridDivisor = 64

// onWakeGrid moves a resync look forward to the next multiple of
// interval/wakeGridDivisor since the epoch, never earlier and never past
// the timeout: 10,000 idle Casts spread evenly over the interval each woke
// a sleeping process and its work queue alone, and the waking (scheduler,
// timers, queue bookkeeping) cost more CPU than the looks; gathered on the
// grid they run back to back while the process is awake. A timeout's own
// look is not moved: it is enforced when it is due.
func onWakeGrid(after time.Duration, w wakeInputs, interval time.Duration) time.Duration {
	at := w.Now.Add(after)
	grid := interval / wakeGridDivisor
	timed := !w.Deadline.IsZero()
	if grid <= 0 || (timed && !w.Deadline.After(at)) {
		return after
	}
	if rest := time.Duration(at.UnixNano() % int64(grid)); rest != 0 {
		at = at.Add(grid - rest)
	}
	if timed && w.Deadline.Before(at) {
		at = w.Deadline
	}
	return at.Sub(w.Now)
}

// wakeInputs is what decides a running Cast's next look; zero times mean
// "none".
type wakeInputs struct {
	Now time.Time
	// Interval is the Cast's resync interval, already jittered.
	Interval time.Duration
	// LastNews is the Cast's last accepted observation or resync.
	LastNews time.Time
	// Postponed is when the budget or a credential problem put the resync
	// off until.
	Postponed time.Time
	// Deadline is when spec.timeout runs out.
	Deadline time.Time
}

// minWake keeps a Cast whose timeout or resync is due this instant from
// being reconciled in a hot loop.
const minWake = time.Second

// wakeAfter is nextWake's pure schedule: one interval after the last news,
// or later if the resync was postponed, and no later than the timeout.
// A resync that is due but did not happen in this reconcile (the Cast
// never had news and the operator has no credential for it, or its
// credential is missing or refused) is looked at again one interval from
// now, not at once: a Cast without credentials costs one reconcile per
// interval, and a token or Secret that appears meanwhile is picked up at
// that look, not sooner.
func wakeAfter(w wakeInputs) time.Duration {
	var due time.Time
	if !w.LastNews.IsZero() {
		due = w.LastNews.Add(w.Interval)
	}
	if w.Postponed.After(due) {
		due = w.Postponed
	}
	if !due.After(w.Now) {
		due = w.Now.Add(w.Interval)
	}
	if !w.Deadline.IsZero() && w.Deadline.Before(due) {
		due = w.Deadline
	}
	return max(due.Sub(w.Now), minWake)
}

// resync re-reads the run, the safety net for webhooks GitHub never
// retries. The run comes from a listing of its repository's active runs
// shared with the repository's other Casts (or, when it is not among them,
// from a GET of its own); its jobs are read only when the run changed.
// Every read is conditional, so an unchanged run costs no primary budget.
func (r *CastReconciler) resync(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, now time.Time) ([]runstatus.Job, error) {
	repo, id := cast.Spec.Repository, cast.Status.RunID
	run, found, err := r.active.lookup(ctx, gh, repo, id, r.resyncInterval(cast)/2, now)
	if err != nil && !ghapi.IsPermanent(err) {
		return nil, fmt.Errorf("resyncing run %d: %w", id, err)
	}
	// A listing GitHub refuses (an Enterprise without it, a narrow token)
	// leaves the run's own GET, which says what is wrong if anything is.
	if !found {
		if run, err = gh.GetRun(ctx, repo, id); err != nil {
			return nil, fmt.Errorf("resyncing run %d: %w", id, err)
		}
	}
	// Most resyncs find the run unchanged, or behind what a webhook said:
	// not worth the debug line per Cast per interval that applyRun writes
	// for a rejected webhook observation (a tenth of the controller's CPU
	// with 10,000 idle Casts).
	changed := runstatus.ApplyRun(&cast.Status, run, now).Applied
	r.touch(cast, now)
	if cast.Status.Phase.IsTerminal() || (!changed && !r.jobsOwed(cast)) {
		return nil, nil
	}
	jobs, err := gh.ListJobs(ctx, repo, id, max(cast.Status.RunAttempt, 1))
	var le *ghapi.LimitError
	if errors.As(err, &le) && le.Reason == "spread" {
		// The run is read; its jobs wait for their turn in the spread and
		// are listed at a later resync, even if the run does not change.
		r.oweJobs(cast, true)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resyncing jobs of run %d: %w", id, err)
	}
	r.oweJobs(cast, false)
	return jobs, nil
}

// oweJobs notes that a resync read the Cast's run but not its jobs.
func (r *CastReconciler) oweJobs(cast *castv1alpha1.Cast, owed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if owed {
		r.owedJobs[cast.UID] = true
	} else {
		delete(r.owedJobs, cast.UID)
	}
}

func (r *CastReconciler) jobsOwed(cast *castv1alpha1.Cast) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owedJobs[cast.UID]
}
