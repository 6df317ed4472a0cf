package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	streamclient "github.com/spell-platform/cast-operator/streamer/client"
	"github.com/spell-platform/cast-operator/test/faults"
)

// fleet is the soak's clients: slots that each hold one subscription at a
// time, drop it after a random while and open a new one, until told to
// hold still.
type fleet struct {
	clients   []*streamclient.Client // one per identity
	transport *http.Transport
	churn     time.Duration

	hold     chan struct{} // closed: keep the current subscription, stop churning
	holdOnce sync.Once
	wg       sync.WaitGroup

	mu      sync.Mutex
	current []*faults.Watcher // each slot's live subscription, nil between two

	connects, events, gaveUp atomic.Int64
}

func newFleet(server string, toks *tokens, identities int, churn time.Duration) (*fleet, error) {
	f := &fleet{
		// One transport for every client, so the soak can close its idle
		// connections at the end and the streamer sees no leftovers.
		transport: &http.Transport{MaxIdleConnsPerHost: 64, ResponseHeaderTimeout: 30 * time.Second, IdleConnTimeout: 30 * time.Second},
		churn:     churn,
		hold:      make(chan struct{}),
	}
	for i := range identities {
		c, err := streamclient.New(streamclient.Options{
			Server:    server,
			TokenFunc: func() (string, error) { return toks.get(i), nil },
			// Quick to come back, as a fleet after a blip would be with
			// jitter; the soak is about resources, not about waiting.
			InitialBackoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second,
			HTTPClient: &http.Client{Transport: f.transport},
		})
		if err != nil {
			return nil, err
		}
		f.clients = append(f.clients, c)
	}
	return f, nil
}

// start runs n slots until ctx ends.
func (f *fleet) start(ctx context.Context, n int) {
	f.current = make([]*faults.Watcher, n)
	for slot := range n {
		f.wg.Add(1)
		go f.run(ctx, slot)
	}
}

func (f *fleet) run(ctx context.Context, slot int) {
	defer f.wg.Done()
	c := f.clients[slot%len(f.clients)]
	// Spread the first connections over a second, as real clients are.
	if !sleep(ctx, f.hold, time.Duration(rand.Int64N(int64(time.Second)))) {
		return
	}
	for ctx.Err() == nil {
		w, err := faults.Watch(ctx, c, streamclient.Scope{Namespace: namespace})
		if err != nil {
			return
		}
		f.connects.Add(1)
		f.set(slot, w)
		if f.churn <= 0 || !sleep(ctx, f.hold, f.churn/2+time.Duration(rand.Int64N(int64(f.churn)))) {
			return // hold: the subscription stays for the consistency check
		}
		f.set(slot, nil)
		f.retire(w)
		if !sleep(ctx, f.hold, time.Duration(rand.Int64N(int64(time.Second)))) {
			w2, err := faults.Watch(ctx, c, streamclient.Scope{Namespace: namespace})
			if err == nil {
				f.connects.Add(1)
				f.set(slot, w2)
			}
			return
		}
	}
}

// sleep waits d; false when told to hold or ctx ended first.
func sleep(ctx context.Context, hold <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-hold:
		return false
	case <-ctx.Done():
		return false
	}
}

func (f *fleet) set(slot int, w *faults.Watcher) {
	f.mu.Lock()
	f.current[slot] = w
	f.mu.Unlock()
}

// retire closes a subscription and books what it saw.
func (f *fleet) retire(w *faults.Watcher) {
	w.Close()
	events, _, _ := w.Counts()
	f.events.Add(int64(events))
	if ended, err := w.Ended(); ended && err != nil {
		f.gaveUp.Add(1)
	}
}

// stopChurn makes every slot keep (or open) one subscription and waits
// until all have one.
func (f *fleet) stopChurn() []*faults.Watcher {
	f.holdOnce.Do(func() { close(f.hold) })
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*faults.Watcher
	for _, w := range f.current {
		if w != nil {
			out = append(out, w)
		}
	}
	return out
}

// close ends every subscription and drops idle connections, so what the
// streamer still holds afterwards is its own.
func (f *fleet) close() {
	f.mu.Lock()
	ws := f.current
	f.current = nil
	f.mu.Unlock()
	for _, w := range ws {
		if w != nil {
			f.retire(w)
		}
	}
	f.transport.CloseIdleConnections()
}
