package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/faults"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

const namespace = "soak"

// tokens holds the current token of each identity; rotate replaces them
// all, as a kubelet refreshes projected ServiceAccount tokens.
type tokens struct {
	kube kubernetes.Interface
	mu   sync.RWMutex
	cur  []string
	n    int // rotations done
}

func sa(i int) string { return fmt.Sprintf("viewer-%d", i) }

func newTokens(ctx context.Context, kube kubernetes.Interface, identities int) (*tokens, error) {
	t := &tokens{kube: kube, cur: make([]string, identities)}
	for i := range identities {
		if _, err := kubetest.Viewer(ctx, kube, namespace, sa(i)); err != nil {
			return nil, err
		}
	}
	return t, t.rotate(ctx)
}

func (t *tokens) rotate(ctx context.Context) error {
	next := make([]string, len(t.cur))
	for i := range next {
		tok, err := kubetest.Token(ctx, t.kube, namespace, sa(i), kubetest.MinTokenTTL)
		if err != nil {
			return err
		}
		next[i] = tok
	}
	t.mu.Lock()
	t.cur = next
	t.n++
	t.mu.Unlock()
	return nil
}

func (t *tokens) get(i int) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.cur[i]
}

func (t *tokens) rotations() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.n
}

// casts keeps n Casts changing: progress and messages move, and now and
// then one is deleted and another created, so streams carry status,
// progress and deleted events and the hub keeps tombstones.
type casts struct {
	k8s     client.Client
	mu      sync.Mutex
	keys    []client.ObjectKey
	created int
	writes  int
	deleted int
}

func newCasts(ctx context.Context, c client.Client, n int) (*casts, error) {
	cs := &casts{k8s: c}
	for range n {
		if err := cs.add(ctx); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

func (cs *casts) add(ctx context.Context) error {
	cs.mu.Lock()
	cs.created++
	name := fmt.Sprintf("cast-%04d", cs.created)
	cs.mu.Unlock()
	c := kubetest.NewCast(namespace, name, 0)
	if err := cs.k8s.Create(ctx, c); err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(c)
	if _, err := kubetest.SetStatus(ctx, cs.k8s, key, func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Message = castv1alpha1.PhaseRunning, "cast: Set up"
	}); err != nil {
		return err
	}
	cs.mu.Lock()
	cs.keys = append(cs.keys, key)
	cs.mu.Unlock()
	return nil
}

func (cs *casts) pick() (client.ObjectKey, int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	i := rand.IntN(len(cs.keys))
	return cs.keys[i], i
}

// drive changes a Cast every tick and replaces one every replace, until
// ctx ends; API errors are counted by the caller's consistency check, not
// fatal here.
func (cs *casts) drive(ctx context.Context, tick, replace time.Duration) {
	t, r := time.NewTicker(tick), time.NewTicker(replace)
	defer t.Stop()
	defer r.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			key, _ := cs.pick()
			if _, err := kubetest.SetStatus(ctx, cs.k8s, key, func(st *castv1alpha1.CastStatus) {
				st.Progress = (st.Progress + 7) % 100
				st.Message = fmt.Sprintf("cast: step %d", st.Progress)
			}); err == nil {
				cs.mu.Lock()
				cs.writes++
				cs.mu.Unlock()
			}
		case <-r.C:
			key, i := cs.pick()
			err := cs.k8s.Delete(ctx, kubetest.NewCast(key.Namespace, key.Name, 0))
			if err != nil && !apierrors.IsNotFound(err) {
				continue
			}
			cs.mu.Lock()
			cs.keys = append(cs.keys[:i:i], cs.keys[i+1:]...)
			cs.deleted++
			cs.mu.Unlock()
			_ = cs.add(ctx)
		}
	}
}

// want is every Cast's current state, as clients must end up holding it.
func (cs *casts) want(ctx context.Context) ([]faults.Want, error) {
	var list castv1alpha1.CastList
	if err := cs.k8s.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	out := make([]faults.Want, 0, len(list.Items))
	for _, c := range list.Items {
		// A replacement the soak's end cut off between create and status
		// write has no phase; the wire contract shows it as Pending.
		phase := c.Status.Phase
		if phase == "" {
			phase = castv1alpha1.PhasePending
		}
		out = append(out, faults.Want{CastID: c.Namespace + "/" + c.Name, ResourceVersion: c.ResourceVersion,
			Phase: string(phase), Progress: c.Status.Progress})
	}
	return out, nil
}
