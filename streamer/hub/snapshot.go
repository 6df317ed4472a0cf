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

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// Kind is the SSE event type of an update. Clients switch on it.
type Kind string

// Event types, a contract with every client.
const (
	// KindStatus: anything but progress and message changed.
	KindStatus Kind = "status"
	// KindProgress: only progress or message changed.
	KindProgress Kind = "progress"
	// KindComplete: the Cast reached a terminal phase.
	KindComplete Kind = "complete"
	// KindDeleted: the Cast is gone.
	KindDeleted Kind = "deleted"
	// KindSynced: the initial state (or the resumed changes) is complete.
	KindSynced Kind = "synced"
)

// strength orders kinds so that coalescing two pending updates of one Cast
// never hides that its phase changed.
func (k Kind) strength() int {
	switch k {
	case KindProgress:
		return 1
	case KindStatus:
		return 2
	case KindComplete:
		return 3
	case KindDeleted:
		return 4
	}
	return 0
}

// Classify says what kind of change old → new is; ok is false when the
// status did not change at all (resyncs, metadata-only updates), which are
// never sent.
func Classify(old, new *castv1alpha1.CastStatus) (kind Kind, ok bool) {
	if old != nil && equality.Semantic.DeepEqual(*old, *new) {
		return "", false
	}
	if new.Phase.IsTerminal() && (old == nil || !old.Phase.IsTerminal()) {
		return KindComplete, true
	}
	if old != nil {
		o, n := *old, *new
		o.Progress, o.Message, o.LastEventAt = n.Progress, n.Message, n.LastEventAt
		if equality.Semantic.DeepEqual(o, n) {
			return KindProgress, true
		}
	}
	return KindStatus, true
}

// Snapshot is the JSON clients get for one state of a Cast: the data of
// every stream event and the body of the JSON endpoints.
type Snapshot struct {
	CastID          string                  `json:"castId"`
	Namespace       string                  `json:"namespace"`
	Name            string                  `json:"name"`
	Status          castv1alpha1.CastPhase  `json:"status"`
	Progress        int32                   `json:"progress"`
	Message         string                  `json:"message"`
	Repository      string                  `json:"repository"`
	Workflow        string                  `json:"workflow"`
	RunID           int64                   `json:"runID"`
	RunAttempt      int64                   `json:"runAttempt"`
	RunURL          string                  `json:"runURL"`
	Conclusion      string                  `json:"conclusion"`
	StartedAt       *time.Time              `json:"startedAt"`
	FinishedAt      *time.Time              `json:"finishedAt"`
	Duration        int64                   `json:"duration"`
	CostCents       int64                   `json:"costCents"`
	Artifacts       []castv1alpha1.Artifact `json:"artifacts"`
	Labels          map[string]string       `json:"labels,omitempty"`
	ResourceVersion string                  `json:"resourceVersion"`
	Timestamp       time.Time               `json:"timestamp"`
}

// SnapshotOf renders a Cast as clients see it at time now. Duration is the
// final one once finished, the elapsed time while running.
func SnapshotOf(cast *castv1alpha1.Cast, now time.Time) Snapshot {
	return trim(cast).snapshot(now)
}

func (t *Trimmed) snapshot(now time.Time) Snapshot {
	st := &t.Status
	s := Snapshot{
		CastID:          t.Namespace + "/" + t.Name,
		Namespace:       t.Namespace,
		Name:            t.Name,
		Status:          st.Phase,
		Progress:        st.Progress,
		Message:         st.Message,
		Repository:      t.Repository,
		Workflow:        t.Workflow,
		RunID:           st.RunID,
		RunAttempt:      st.RunAttempt,
		RunURL:          st.RunURL,
		Conclusion:      st.Conclusion,
		Duration:        st.DurationMillis,
		CostCents:       st.CostCents,
		Artifacts:       st.Artifacts,
		Labels:          t.Labels,
		ResourceVersion: t.ResourceVersion,
		Timestamp:       now.UTC(),
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
func encode(s Snapshot) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		// Snapshot holds only strings, numbers and times: this cannot fail.
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
