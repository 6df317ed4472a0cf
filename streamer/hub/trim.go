package hub

import (
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/internal/intern"
)

// Trimmed is what the streamer's informer keeps of a Cast: what the hub
// reads (snapshots, Classify, filters and resume), in about half the
// memory of a Cast with its mostly empty ObjectMeta. At 100,000 Casts the
// informer's objects are the replica's largest share of memory.
type Trimmed struct {
	Namespace, Name, ResourceVersion string
	Labels                           map[string]string
	Repository, Workflow             string
	// Status is the Cast's, without conditions and observedGeneration:
	// they are not in the stream's data, so a change to them alone is not
	// news for clients.
	Status castv1alpha1.CastStatus
}

var (
	_ runtime.Object            = (*Trimmed)(nil)
	_ metav1.ObjectMetaAccessor = (*Trimmed)(nil)
)

// GetObjectKind is empty: a Trimmed is never sent to the API server.
func (t *Trimmed) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject copies t, for the informer machinery that may.
func (t *Trimmed) DeepCopyObject() runtime.Object {
	c := *t
	c.Labels = maps.Clone(t.Labels)
	t.Status.DeepCopyInto(&c.Status)
	return &c
}

// GetObjectMeta is what the informer's keys and namespace index read
// (client-go's meta.Accessor), built when they ask instead of kept.
func (t *Trimmed) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Name, ResourceVersion: t.ResourceVersion, Labels: t.Labels}
}

// Trim is the streamer's informer transform: it turns a Cast into a
// Trimmed, so a replica holding 100,000 Casts does not also hold their
// UIDs, inputs, annotations, finalizers, owner references and conditions.
// Strings and label sets that many Casts share (namespace, repository,
// workflow, phase, message, conclusion, labels, the jobs' words) are
// interned: one copy for all. Objects that are not Casts pass unchanged.
func Trim(obj any) (any, error) {
	if cast, ok := obj.(*castv1alpha1.Cast); ok {
		t := trim(cast)
		// The transform sees the decoded object before anyone else
		// (client-go's TransformFunc contract), so its jobs, which the
		// trimmed status shares, may be interned in place.
		internJobs(t.Status.Jobs)
		return t, nil
	}
	return obj, nil
}

// internJobs shares the words that recur in every Cast's jobs: their
// statuses and conclusions (a handful of words), and the job and step
// names and runner labels, which a workflow repeats in each of its runs.
// A 100,000-Cast replica otherwise holds a decoded copy of "completed",
// "success" and "Set up job" per step. Links and times are one of a kind
// and stay as decoded.
func internJobs(jobs []castv1alpha1.JobStatus) {
	for i := range jobs {
		j := &jobs[i]
		j.Name, j.Status, j.Conclusion = intern.String(j.Name), intern.String(j.Status), intern.String(j.Conclusion)
		for k := range j.Labels {
			j.Labels[k] = intern.String(j.Labels[k])
		}
		for k := range j.Steps {
			s := &j.Steps[k]
			s.Name, s.Status, s.Conclusion = intern.String(s.Name), intern.String(s.Status), intern.String(s.Conclusion)
		}
	}
}

func trim(cast *castv1alpha1.Cast) *Trimmed {
	out := &Trimmed{
		Namespace: intern.String(cast.Namespace), Name: cast.Name, ResourceVersion: cast.ResourceVersion,
		Labels:     labelSets.Share(cast.Labels),
		Repository: intern.String(cast.Spec.Repository), Workflow: intern.String(cast.Spec.Workflow),
		Status: cast.Status,
	}
	st := &out.Status
	st.Conditions = nil
	st.ObservedGeneration = 0
	st.Phase = castv1alpha1.CastPhase(intern.String(string(st.Phase)))
	st.Message, st.Conclusion = intern.String(st.Message), intern.String(st.Conclusion)
	return out
}

// labelSets shares the label sets of every trimmed Cast in the process.
var labelSets intern.LabelSets

// asTrimmed is what the hub keeps of an informer object: the informer's
// own Trimmed, or one made from a whole Cast (an informer without the
// Trim transform, as in dev, which shares its cache with the controller).
func asTrimmed(obj any) (*Trimmed, bool) {
	switch o := obj.(type) {
	case *Trimmed:
		return o, true
	case *castv1alpha1.Cast:
		return trim(o), true
	}
	return nil, false
}
