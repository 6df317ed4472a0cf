package controllers

import (
	"sort"
	"strings"
	"sync"
	"unique"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// CacheTransform prepares a Cast for the controller's informer cache. It
// keeps every field (the reconciler reads and updates whole Casts) but
// managedFields, which nothing reads, and makes Casts share what they
// have in common instead of holding one decoded copy each: the strings
// most Casts repeat (namespace, repository, workflow, phase, finalizer,
// condition types, reasons and fixed messages) and identical label maps.
// With 100,000 Casts those copies were a large share of the controller's
// heap.
//
// Shared label maps rely on the informer contract that cached objects are
// never modified: the cache reader hands out deep copies, and predicates
// only read.
func CacheTransform() toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	labels := &labelSets{sets: map[string]map[string]string{}}
	return func(obj any) (any, error) {
		obj, err := strip(obj)
		if err != nil {
			return obj, err
		}
		if cast, ok := obj.(*castv1alpha1.Cast); ok {
			internCast(cast, labels)
		}
		return obj, nil
	}
}

func intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// internFixed interns a message without digits: messages that name a run,
// a count or a time are one of a kind, and interning them would only add
// an entry per Cast.
func internFixed(s string) string {
	if strings.ContainsAny(s, "0123456789") {
		return s
	}
	return intern(s)
}

func internCast(c *castv1alpha1.Cast, labels *labelSets) {
	c.APIVersion, c.Kind = intern(c.APIVersion), intern(c.Kind)
	c.Namespace = intern(c.Namespace)
	c.GenerateName = intern(c.GenerateName)
	for i := range c.Finalizers {
		c.Finalizers[i] = intern(c.Finalizers[i])
	}
	for i := range c.OwnerReferences {
		o := &c.OwnerReferences[i]
		o.APIVersion, o.Kind = intern(o.APIVersion), intern(o.Kind)
	}
	c.Labels = labels.share(c.Labels)

	s := &c.Spec
	s.Repository, s.Workflow, s.Ref = intern(s.Repository), intern(s.Workflow), intern(s.Ref)
	if s.CredentialsSecretRef != nil {
		s.CredentialsSecretRef.Name = intern(s.CredentialsSecretRef.Name)
	}

	st := &c.Status
	st.Phase = castv1alpha1.CastPhase(intern(string(st.Phase)))
	st.Conclusion, st.Message = intern(st.Conclusion), internFixed(st.Message)
	for i := range st.Conditions {
		internCondition(&st.Conditions[i])
	}
}

func internCondition(c *metav1.Condition) {
	c.Type, c.Reason, c.Message = intern(c.Type), intern(c.Reason), internFixed(c.Message)
	c.Status = metav1.ConditionStatus(intern(string(c.Status)))
}

// labelSets hands out one map per distinct label set, up to maxLabelSets
// of them; past that, Casts keep their own.
type labelSets struct {
	mu   sync.Mutex
	sets map[string]map[string]string
}

const maxLabelSets = 4096

func (l *labelSets) share(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		// NUL appears in neither label keys nor values.
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	id := b.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if shared, ok := l.sets[id]; ok {
		return shared
	}
	if len(l.sets) >= maxLabelSets {
		return m
	}
	shared := make(map[string]string, len(m))
	for k, v := range m {
		shared[intern(k)] = intern(v)
	}
	l.sets[id] = shared
	return shared
}
