package controllers

import (
	"context"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// len is how many Casts sleep until a wake.
func (w *wakes) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.due)
}

func key(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }

func sortedNames(keys []types.NamespacedName) []string {
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	slices.Sort(names)
	return names
}

// A sleeping Cast is handed over once, when its wake is due; a later set
// replaces an earlier one, and a Cast being looked at (cancel) is not
// handed over for its old wake.
func TestWakesHandOverOnlyWhatIsDue(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	w := newWakes()
	w.set(key("a"), t0.Add(time.Second))
	w.set(key("b"), t0.Add(2*time.Second))
	w.set(key("c"), t0.Add(3*time.Second))
	w.set(key("moved"), t0.Add(time.Second))
	w.set(key("moved"), t0.Add(10*time.Second))
	w.set(key("looked-at"), t0.Add(time.Second))
	w.cancel(key("looked-at"))

	steps := []struct {
		at       time.Duration
		want     []string
		wantNext time.Duration // 0: none
	}{
		{at: 0, want: nil, wantNext: time.Second},
		{at: 2 * time.Second, want: []string{"a", "b"}, wantNext: 3 * time.Second},
		{at: 2 * time.Second, want: nil, wantNext: 3 * time.Second},
		{at: 9 * time.Second, want: []string{"c"}, wantNext: 10 * time.Second},
		{at: 10 * time.Second, want: []string{"moved"}, wantNext: 0},
		{at: time.Hour, want: nil, wantNext: 0},
	}
	for _, s := range steps {
		due, next := w.takeDue(t0.Add(s.at))
		if got := sortedNames(due); !slices.Equal(got, s.want) {
			t.Errorf("at +%s: handed over %v, want %v", s.at, got, s.want)
		}
		wantNext := int64(0)
		if s.wantNext != 0 {
			wantNext = t0.Add(s.wantNext).UnixNano()
		}
		if next != wantNext {
			t.Errorf("at +%s: next wake %d, want %d", s.at, next, wantNext)
		}
	}
	if n := w.len(); n != 0 {
		t.Errorf("%d Casts still sleep after every wake was handed over", n)
	}
}

// The loop queues a Cast when its wake comes, also one set while the loop
// slept until a later wake, and stops with its context.
func TestDeliverWakesQueuesDueCasts(t *testing.T) {
	r := &CastReconciler{wakes: newWakes()}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { r.deliverWakes(ctx, q); close(stopped) }()

	r.wakes.set(key("later"), time.Now().Add(time.Hour))
	time.Sleep(20 * time.Millisecond) // the loop now sleeps until "later"
	r.wakes.set(key("soon"), time.Now().Add(50*time.Millisecond))

	got := make(chan reconcile.Request, 1)
	go func() {
		item, _ := q.Get()
		got <- item
	}()
	select {
	case item := <-got:
		if item.Name != "soon" {
			t.Fatalf("queued %s, want soon", item.Name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a wake set while the loop slept until a later one was not queued")
	}
	if n := r.wakes.len(); n != 1 {
		t.Errorf("%d Casts sleep, want 1 (later)", n)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not stop with its context")
	}
	if n := q.Len(); n != 0 {
		t.Errorf("%d more Casts queued; the only other wake is an hour away", n)
	}
}
