package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// screenWatch is the scenario's baseline: one client-go watch of the
// namespace straight to kube-apiserver, timed against the same POST
// stamps. It shows how much of GitHub-to-screen is the controller and
// kube-apiserver, and how much the streamer and its fan-out add.
type screenWatch struct {
	cur    atomic.Pointer[screenWindow]
	ended  atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
}

func (b *bench) startScreenWatch(ctx context.Context) (*screenWatch, error) {
	wc, err := client.NewWithWatch(b.cl.cfg, client.Options{Scheme: localcluster.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("baseline watch client: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	wi, err := wc.Watch(wctx, &castv1alpha1.CastList{}, client.InNamespace(screenNS))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("baseline watch: %w", err)
	}
	sw := &screenWatch{cancel: cancel, done: make(chan struct{})}
	go sw.read(wi)
	return sw, nil
}

func (sw *screenWatch) read(wi watch.Interface) {
	defer close(sw.done)
	defer wi.Stop()
	var win *screenWindow
	var last []int32
	for ev := range wi.ResultChan() {
		now := time.Now().UnixNano()
		cast, ok := ev.Object.(*castv1alpha1.Cast)
		w := sw.cur.Load()
		if !ok || ev.Type != watch.Modified || w == nil {
			continue
		}
		var c, d int
		if n, _ := fmt.Sscanf(cast.Status.Message, "screen: c=%d d=%d", &c, &d); n != 2 {
			continue
		}
		if w != win {
			win, last = w, newLast(w.casts)
		}
		w.observe(last, c, d, now)
	}
	sw.ended.Store(true)
}

func (sw *screenWatch) stop() {
	sw.cancel()
	<-sw.done
}

// shadow is a tracker for the same deliveries and POST stamps, for other
// readers (the baseline watch).
func (w *screenWindow) shadow(clients int) *screenWindow {
	s := newScreenWindow(w.rate, w.n, w.casts, w.castBase, w.seqBase, clients)
	s.start = w.start
	return s
}

func newLast(casts int) []int32 {
	last := make([]int32, casts)
	for i := range last {
		last[i] = -1
	}
	return last
}
