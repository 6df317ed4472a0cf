package runstatus

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// PhaseOf maps GitHub's run status and conclusion to a Cast phase and a
// message. Values GitHub may add later map to Failed, naming the value, so a
// Cast never claims success it cannot vouch for.
func PhaseOf(status, conclusion string) (castv1alpha1.CastPhase, string) {
	switch status {
	case "requested", "queued", "pending", "waiting":
		return castv1alpha1.PhaseQueued, "run " + status
	case "in_progress":
		return castv1alpha1.PhaseRunning, "run in progress"
	case "completed":
	default:
		return castv1alpha1.PhaseFailed, fmt.Sprintf("unknown run status %q", status)
	}
	switch conclusion {
	case "success":
		return castv1alpha1.PhaseSucceeded, "run succeeded"
	case "skipped", "neutral":
		return castv1alpha1.PhaseSucceeded, "run finished as " + conclusion
	case "cancelled":
		return castv1alpha1.PhaseCancelled, "run cancelled"
	case "timed_out":
		return castv1alpha1.PhaseTimedOut, "run timed out on GitHub"
	case "failure", "startup_failure", "action_required", "stale":
		return castv1alpha1.PhaseFailed, "run finished as " + conclusion
	default:
		return castv1alpha1.PhaseFailed, fmt.Sprintf("unknown run conclusion %q", conclusion)
	}
}

// rank orders phases within one run attempt: a run only moves up.
func rank(p castv1alpha1.CastPhase) int {
	switch p {
	case castv1alpha1.PhaseQueued:
		return 1
	case castv1alpha1.PhaseRunning:
		return 2
	case castv1alpha1.PhaseSucceeded, castv1alpha1.PhaseFailed, castv1alpha1.PhaseCancelled, castv1alpha1.PhaseTimedOut:
		return 3
	}
	return 0
}

// Result says what ApplyRun did, so the reconciler can emit events and
// metrics without comparing statuses itself.
type Result struct {
	Applied bool
	// NewAttempt is true when the observation started a re-run.
	NewAttempt bool
	// Reason explains a rejected observation, for logs.
	Reason string
}

// ApplyRun merges one run snapshot into st. Snapshots are ordered by
// (attempt, phase rank, updated_at); one that is not newer than what st
// already shows is rejected, and a terminal phase is left only by a higher
// attempt, which starts the new attempt from a clean slate. now is used for
// lastEventAt only when GitHub gave no updated_at.
func ApplyRun(st *castv1alpha1.CastStatus, run Run, now time.Time) Result {
	if st.RunID != 0 && run.ID != st.RunID {
		return Result{Reason: fmt.Sprintf("run %d is not this cast's run %d", run.ID, st.RunID)}
	}
	attempt := max(run.Attempt, 1)
	phase, message := PhaseOf(run.Status, run.Conclusion)
	// Status timestamps have whole seconds; compare at the precision kept.
	updated := run.UpdatedAt
	if updated.IsZero() {
		updated = now
	}
	updated = updated.UTC().Truncate(time.Second)

	if st.Phase.IsTerminal() && attempt <= max(st.RunAttempt, 1) {
		return Result{Reason: fmt.Sprintf("attempt %d already finished as %s", attempt, st.Phase)}
	}
	newAttempt := st.RunAttempt != 0 && attempt > st.RunAttempt
	if st.RunAttempt != 0 && !newAttempt {
		switch {
		case attempt < st.RunAttempt:
			return Result{Reason: fmt.Sprintf("attempt %d is older than attempt %d", attempt, st.RunAttempt)}
		case rank(phase) < rank(st.Phase):
			return Result{Reason: fmt.Sprintf("%s would move the cast back from %s", run.Status, st.Phase)}
		case rank(phase) == rank(st.Phase) && st.LastEventAt != nil && !updated.After(st.LastEventAt.Time):
			return Result{Reason: "not newer than the last applied event"}
		}
	}

	if newAttempt {
		keepOutcome(st)
		resetAttempt(st)
	}
	st.RunID = run.ID
	st.RunAttempt = attempt
	keepJobsOf(st, attempt)
	if run.HTMLURL != "" {
		st.RunURL = run.HTMLURL
	}
	st.LastEventAt = ptrTime(updated)
	st.Phase = phase
	st.Message = message
	if !run.StartedAt.IsZero() {
		st.StartedAt = ptrTime(run.StartedAt.UTC().Truncate(time.Second))
	}
	if phase.IsTerminal() {
		st.Conclusion = run.Conclusion
		st.FinishedAt = ptrTime(updated)
		if st.StartedAt != nil && !updated.Before(st.StartedAt.Time) {
			st.DurationMillis = updated.Sub(st.StartedAt.Time).Milliseconds()
		}
		if phase == castv1alpha1.PhaseSucceeded {
			st.Progress = 100
		}
	}
	refreshProgress(st)
	SetProgress(st, phase, updated)
	return Result{Applied: true, NewAttempt: newAttempt}
}

// resetAttempt clears everything that belonged to the previous attempt.
func resetAttempt(st *castv1alpha1.CastStatus) {
	st.Progress = 0
	st.Conclusion = ""
	st.StartedAt = nil
	st.FinishedAt = nil
	st.DurationMillis = 0
	st.CostCents = 0
	st.Artifacts = nil
}

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

// Later reports whether snapshot a comes after b in the order ApplyRun
// follows: (attempt, phase rank, updated_at). A queue of snapshots that
// must stay bounded keeps the latest by this order and loses nothing a
// merge would keep.
func Later(a, b Run) bool {
	if aa, ba := max(a.Attempt, 1), max(b.Attempt, 1); aa != ba {
		return aa > ba
	}
	pa, _ := PhaseOf(a.Status, a.Conclusion)
	pb, _ := PhaseOf(b.Status, b.Conclusion)
	if ra, rb := rank(pa), rank(pb); ra != rb {
		return ra > rb
	}
	// ApplyRun takes a snapshot without updated_at as happening now: the
	// newest there is.
	if a.UpdatedAt.IsZero() || b.UpdatedAt.IsZero() {
		return a.UpdatedAt.IsZero() && !b.UpdatedAt.IsZero()
	}
	return a.UpdatedAt.Truncate(time.Second).After(b.UpdatedAt.Truncate(time.Second))
}
