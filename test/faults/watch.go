package faults

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/spell-platform/cast-operator/streamer/client"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// Watcher follows a scope with the Go client (reconnect, resume) and keeps
// what a consumer would: the last event per Cast.
type Watcher struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	last   map[string]client.Event
	events int
	// regressions counts states delivered with a lower resourceVersion
	// than one delivered before for the same Cast: never allowed.
	regressions int
	synced      int
	err         error
}

// Watch subscribes and consumes in the background until Close.
func Watch(ctx context.Context, c *client.Client, scope client.Scope) (*Watcher, error) {
	ctx, cancel := context.WithCancel(ctx)
	sub, err := c.Subscribe(ctx, scope)
	if err != nil {
		cancel()
		return nil, err
	}
	w := &Watcher{cancel: cancel, done: make(chan struct{}), last: map[string]client.Event{}}
	go func() {
		defer close(w.done)
		for ev := range sub.Events() {
			w.mu.Lock()
			w.events++
			if ev.Type == wire.KindSynced {
				w.synced++
			} else {
				if prev, ok := w.last[ev.Cast.CastID]; ok && rvOf(ev) < rvOf(prev) {
					w.regressions++
				}
				w.last[ev.Cast.CastID] = ev
			}
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.err = sub.Err()
		w.mu.Unlock()
	}()
	return w, nil
}

// Close ends the subscription and waits for it.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

// Ended reports whether the subscription gave up (a permanent error).
func (w *Watcher) Ended() (bool, error) {
	select {
	case <-w.done:
		w.mu.Lock()
		defer w.mu.Unlock()
		return true, w.err
	default:
		return false, nil
	}
}

// Last returns the last event for castID ("namespace/name").
func (w *Watcher) Last(castID string) (client.Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev, ok := w.last[castID]
	return ev, ok
}

// Counts returns how many events and synced markers arrived, and how
// many states went back in time.
func (w *Watcher) Counts() (events, synced, regressions int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.events, w.synced, w.regressions
}

func rvOf(ev client.Event) int64 {
	n, _ := strconv.ParseInt(ev.ID, 10, 64)
	return n
}

// Want is what a Cast's final state must look like to a client.
type Want struct {
	CastID, ResourceVersion, Phase string
	Progress                       int32
}

// Mismatches lists, for every watcher, the Casts whose last event is not
// the wanted state (at most limit lines), and how many watchers hold every
// Cast right.
func Mismatches(ws []*Watcher, want []Want, limit int) (ok int, diffs []string) {
	for i, w := range ws {
		good := true
		for _, c := range want {
			ev, found := w.Last(c.CastID)
			var d string
			switch {
			case !found:
				d = "never seen"
			case ev.Type == wire.KindDeleted:
				d = "deleted"
			case ev.Cast.ResourceVersion != c.ResourceVersion || string(ev.Cast.Status) != c.Phase || ev.Cast.Progress != c.Progress:
				d = fmt.Sprintf("holds %s rv=%s progress=%d, want %s rv=%s progress=%d",
					ev.Cast.Status, ev.Cast.ResourceVersion, ev.Cast.Progress, c.Phase, c.ResourceVersion, c.Progress)
			}
			if d != "" {
				good = false
				if len(diffs) < limit {
					diffs = append(diffs, fmt.Sprintf("client %d, %s: %s", i, c.CastID, d))
				}
			}
		}
		if good {
			ok++
		}
	}
	sort.Strings(diffs)
	return ok, diffs
}
