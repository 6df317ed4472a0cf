package hub

import (
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// Update is one event for a stream: a Cast's state (or deletion) with the
// resourceVersion clients resume from, and its JSON, encoded once for all.
type Update struct {
	Kind wire.Kind
	Key  types.NamespacedName
	// ID is the resourceVersion of this state, the SSE event id.
	ID string
	rv int64
	// terminal: this state's phase is terminal.
	terminal bool
	// Data is the event's JSON; shared between subscribers, never modify
	// it. Nil for a resting state in a snapshot or resume, which
	// AppendEvent renders from cast.
	Data []byte
	// cast is a resting state's object, rendered when written.
	cast *Trimmed
	// At is when the hub saw the change, for the delivery-lag metric.
	At time.Time
	// frame is the SSE frame of this update, encoded once for every
	// stream that sends it unchanged.
	frame []byte
}

// Frame is the update's SSE frame (id, event, data) as every stream sends
// it, encoded once; nil when a stream must encode it itself (AppendEvent).
func (u *Update) Frame() []byte { return u.frame }

func (u *Update) encodeFrame() {
	u.frame, _ = sse.AppendEvent(nil, sse.Event{ID: u.ID, Event: string(u.Kind), Data: u.Data})
}

// Terminal reports whether this state's phase is terminal: a single-Cast
// stream ends after sending it.
func (u *Update) Terminal() bool { return u.terminal }

// RV is the update's resourceVersion as a number (ID's), 0 when ID is not
// one etcd made; streams compare it with the hub's Position.
func (u *Update) RV() int64 { return u.rv }

// Filter is what a stream watches: one Cast, a namespace, or everything,
// optionally narrowed by labels and by event type.
type Filter struct {
	Namespace string // "" = all namespaces
	Name      string // "" = every Cast in scope
	Selector  labels.Selector
	// Kinds are the event types the stream sends; the zero set is every
	// type. A change of another type is never queued for the stream, and
	// a state of another type is left out of its snapshot or resume.
	Kinds wire.KindSet
}

func (f Filter) matches(key types.NamespacedName, lbls map[string]string) bool {
	if f.Namespace != "" && key.Namespace != f.Namespace {
		return false
	}
	if f.Name != "" && key.Name != f.Name {
		return false
	}
	return f.Selector == nil || f.Selector.Empty() || f.Selector.Matches(labels.Set(lbls))
}

// Subscriber is one stream's queue. It holds at most one pending update per
// Cast, the latest, in resourceVersion order, so the informer never waits
// for a client and a slow client costs memory bounded by the Casts it
// watches, not by the changes it missed.
type Subscriber struct {
	filter Filter
	// wholeScope: the filter takes every Cast of its namespace (no name,
	// no selector), so publishing needs no check per subscriber.
	wholeScope bool
	notify     chan struct{}
	done       chan struct{}
	// closedFlag mirrors closed for Closed, which a stream asks at every
	// wake-up, without the lock.
	closedFlag atomic.Bool
	// rebased: the hub ended the subscriber because the API server's
	// history went back (restore.go), not because it shuts down.
	rebased atomic.Bool
	// kinds are the event types the stream sends (the zero set: all),
	// checked once per change before it is queued.
	kinds wire.KindSet

	mu      sync.Mutex
	pending queue
	closed  bool
}

func newSubscriber(f Filter) *Subscriber {
	return &Subscriber{
		filter:     f,
		wholeScope: f.Name == "" && (f.Selector == nil || f.Selector.Empty()),
		kinds:      f.Kinds,
		notify:     make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
}

// Wake makes Ready fire even with nothing to drain, so a stream's goroutine
// can wait on that one channel for everything (its client hanging up, its
// timers) instead of selecting over many.
func (s *Subscriber) Wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Closed reports whether the hub dropped the subscriber (see Done).
func (s *Subscriber) Closed() bool { return s.closedFlag.Load() }

// Rebased reports whether the hub dropped the subscriber because the API
// server's history went back: the client must reconnect for a full
// snapshot of the state it went back to.
func (s *Subscriber) Rebased() bool { return s.rebased.Load() }

// Ready fires when updates are waiting, and after Wake; call Drain then.
func (s *Subscriber) Ready() <-chan struct{} { return s.notify }

// Done is closed when the hub dropped the subscriber (Unsubscribe or hub
// shutdown).
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// Drain takes every pending update, oldest resourceVersion first, so a
// client that disconnects midway resumes from an id below everything it
// has not seen.
func (s *Subscriber) Drain() []*Update { return s.DrainTo(nil) }

// DrainTo is Drain appending to dst, so a stream reuses one slice for
// every wake-up instead of allocating one each time.
func (s *Subscriber) DrainTo(dst []*Update) []*Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending.drain(dst)
}

// push queues u, replacing the Cast's pending update. A replaced update
// moves to the back (its resourceVersion is now the newest) and keeps the
// stronger kind, so a status change followed by a progress change is still
// sent as a status change.
func (s *Subscriber) push(u *Update) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	// Only the update that makes the queue non-empty wakes the stream:
	// the later ones are taken by the same Drain, which the stream, woken
	// (or about to be), has not made yet; Drain and push share the lock.
	wake := s.pending.len() == 0
	s.pending.push(u, s.merge)
	s.mu.Unlock()
	if wake {
		s.Wake()
	}
}

// merge is what replaces a pending update old: u, or a copy of it with
// the kind coalesce picks (and no shared frame, which has u's kind). A
// kind the stream did not ask for is never picked: u keeps its own.
func (s *Subscriber) merge(old, u *Update) *Update {
	if kind := coalesce(old, u); kind != u.Kind && s.kinds.Has(kind) {
		merged := *u
		merged.Kind, merged.frame = kind, nil
		return &merged
	}
	return u
}

// coalesce is the kind of an update that replaces a pending one the client
// never saw: the stronger of the two, but never "complete" for a state that
// is not terminal (a re-run started) and never a deletion's kind for a Cast
// that exists again.
func coalesce(old, u *Update) wire.Kind {
	if u.Kind == wire.KindDeleted || old.Kind == wire.KindDeleted {
		return u.Kind
	}
	kind := u.Kind
	if strength(old.Kind) > strength(kind) {
		kind = old.Kind
	}
	if kind == wire.KindComplete && !u.terminal {
		kind = wire.KindStatus
	}
	return kind
}

func (s *Subscriber) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.closedFlag.Store(true)
		close(s.done)
		s.Wake()
	}
}
