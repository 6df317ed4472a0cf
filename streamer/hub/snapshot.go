// Package hub fans Cast status changes from one informer out to many
// stream subscribers, and remembers enough (current states, a bounded
// memory of deletions) to resume a reconnecting client exactly.
package hub

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// strength orders kinds so that coalescing two pending updates of one Cast
// never hides that its phase changed.
func strength(k wire.Kind) int {
	switch k {
	case wire.KindProgress:
		return 1
	case wire.KindStatus:
		return 2
	case wire.KindComplete:
		return 3
	case wire.KindDeleted:
		return 4
	}
	return 0
}

// Classify says what kind of change old → new is; ok is false when the
// status did not change at all (resyncs, metadata-only updates), which are
// never sent. "complete" is the step into a terminal phase; "progress" is
// a change to nothing but how far the run got: progress, message, the
// time of the last GitHub event, and the jobs and their steps (a step
// starting or finishing is the run moving on, which a dashboard draws
// live and a client that asked only for outcomes is spared); anything
// else (phase, run, outcome, cost, artifacts, actions) is "status".
func Classify(old, new *castv1alpha1.CastStatus) (kind wire.Kind, ok bool) {
	if old != nil && equality.Semantic.DeepEqual(*old, *new) {
		return "", false
	}
	if new.Phase.IsTerminal() && (old == nil || !old.Phase.IsTerminal()) {
		return wire.KindComplete, true
	}
	if old != nil {
		o, n := *old, *new
		o.Progress, o.Message, o.LastEventAt = n.Progress, n.Message, n.LastEventAt
		o.Jobs, o.JobsOmitted = n.Jobs, n.JobsOmitted
		if equality.Semantic.DeepEqual(o, n) {
			return wire.KindProgress, true
		}
	}
	return wire.KindStatus, true
}

// SnapshotOf renders a Cast as clients see it at time now. Duration is the
// final one once finished, the elapsed time while running.
func SnapshotOf(cast *castv1alpha1.Cast, now time.Time) wire.Snapshot {
	return trim(cast).snapshot(now)
}

func (t *Trimmed) snapshot(now time.Time) wire.Snapshot {
	st := &t.Status
	s := wire.Snapshot{
		CastID:           t.Namespace + "/" + t.Name,
		Namespace:        t.Namespace,
		Name:             t.Name,
		Status:           st.Phase,
		Progress:         st.Progress,
		Message:          st.Message,
		Repository:       t.Repository,
		Workflow:         t.Workflow,
		RunID:            st.RunID,
		RunAttempt:       st.RunAttempt,
		RunURL:           st.RunURL,
		Conclusion:       st.Conclusion,
		Duration:         st.DurationMillis,
		CostCents:        st.CostCents,
		Artifacts:        st.Artifacts,
		Labels:           t.Labels,
		Jobs:             jobsOf(st.Jobs),
		JobsOmitted:      st.JobsOmitted,
		PreviousAttempts: attemptsOf(st.PreviousAttempts),
		ResourceVersion:  t.ResourceVersion,
		Timestamp:        now.UTC(),
	}
	if s.Status == "" {
		s.Status = castv1alpha1.PhasePending
	}
	if s.Artifacts == nil {
		s.Artifacts = []castv1alpha1.Artifact{}
	}
	if st.StartedAt != nil {
		t := st.StartedAt.UTC()
		s.StartedAt = &t
		if st.FinishedAt == nil && s.Duration == 0 && now.After(t) {
			s.Duration = now.Sub(t).Milliseconds()
		}
	}
	if st.FinishedAt != nil {
		t := st.FinishedAt.UTC()
		s.FinishedAt = &t
	}
	return s
}

// encode marshals a snapshot once for every subscriber.
func encode(s wire.Snapshot) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		// wire.Snapshot holds only strings, numbers and times: this cannot fail.
		panic(fmt.Sprintf("encoding cast snapshot: %v", err))
	}
	return b
}

// parseRV reads a resourceVersion as the number etcd makes it; ok is false
// for anything else, and such versions are never used to resume.
func parseRV(rv string) (int64, bool) {
	n, err := strconv.ParseInt(rv, 10, 64)
	return n, err == nil && n > 0
}

// jobsOf renders the stored jobs in the stream's compact form.
func jobsOf(jobs []castv1alpha1.JobStatus) []wire.Job {
	if len(jobs) == 0 {
		return nil
	}
	out := make([]wire.Job, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		out[i] = wire.Job{ID: j.ID, Name: j.Name, Status: j.Status, Conclusion: j.Conclusion,
			StartedAt: timeOf(j.StartedAt), CompletedAt: timeOf(j.CompletedAt), URL: j.HTMLURL,
			Labels: j.Labels, StepsOmitted: j.StepsOmitted}
		if len(j.Steps) > 0 {
			out[i].Steps = make([]wire.Step, len(j.Steps))
			for k, s := range j.Steps {
				out[i].Steps[k] = wire.Step{Number: s.Number, Name: s.Name, Status: s.Status, Conclusion: s.Conclusion,
					StartedAt: timeOf(s.StartedAt), CompletedAt: timeOf(s.CompletedAt)}
			}
		}
	}
	return out
}

// attemptsOf renders how earlier attempts ended.
func attemptsOf(prev []castv1alpha1.AttemptOutcome) []wire.Attempt {
	if len(prev) == 0 {
		return nil
	}
	out := make([]wire.Attempt, len(prev))
	for i, a := range prev {
		out[i] = wire.Attempt{Attempt: a.Attempt, Phase: string(a.Phase), Conclusion: a.Conclusion,
			StartedAt: timeOf(a.StartedAt), FinishedAt: timeOf(a.FinishedAt), URL: a.URL}
	}
	return out
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
