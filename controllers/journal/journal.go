// Package journal makes webhook receipt durable. GitHub never redelivers a
// delivery it saw answered 2xx, so the receiver may answer only once the
// news is stored through the API server. Writing each delivery into its
// Cast would cost one write of a custom resource per delivery, the
// expensive kind (schema validation, managed fields, JSON throughout), and
// a burst of deliveries would queue on the API server. Instead, every
// replica appends what it receives to the journal: ConfigMaps in the
// operator's namespace, each holding a batch of the deliveries that
// arrived while the previous batch was being written (group commit). A
// delivery costs a share of one ConfigMap create, whatever replica took
// it. The leader reads the journal through its cache, merges the news
// into the Casts as before, and deletes each batch once every Cast it
// names holds its news. A new leader replays whatever batches are left, and
// the merge is idempotent, so nothing stored is ever lost.
package journal

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// Label marks the journal's ConfigMaps, so the leader's cache holds only
// them of all ConfigMaps in the namespace.
const (
	Label      = "spell.dev/webhook-journal"
	LabelValue = "v1"
	// DataKey holds a batch's entries as a JSON array.
	DataKey = "entries"
	// namePrefix starts each batch's generated name.
	namePrefix = "cast-webhooks-"
)

// Selector selects the journal's ConfigMaps.
func Selector() labels.Selector { return labels.SelectorFromSet(labels.Set{Label: LabelValue}) }

// Entry is one delivery's news for one Cast, as stored.
type Entry struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// UID is the Cast's, as the receiver's cache knew it: news for a Cast
	// deleted meanwhile never reaches one created again under its name.
	UID types.UID `json:"uid,omitempty"`
	// Repository is the delivery's repository, proof that its webhook
	// delivers.
	Repository string `json:"repository"`
	runstatus.Observation
}

// Cast is the Cast the entry is news for.
func (e Entry) Cast() types.NamespacedName {
	return types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
}

// IsBatch reports whether cm is one of the journal's batches.
func IsBatch(cm *corev1.ConfigMap) bool { return cm.Labels[Label] == LabelValue }

// Decode reads a batch's entries.
func Decode(cm *corev1.ConfigMap) ([]Entry, error) {
	var out []Entry
	if err := json.Unmarshal([]byte(cm.Data[DataKey]), &out); err != nil {
		return nil, fmt.Errorf("reading webhook journal batch %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return out, nil
}
