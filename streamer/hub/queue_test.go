package hub

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/spell-platform/cast-operator/streamer/wire"
)

func upd(name string, rv int64, kind wire.Kind, terminal bool) *Update {
	return &Update{Kind: kind, Key: types.NamespacedName{Namespace: "ns", Name: name},
		ID: strconv.FormatInt(rv, 10), rv: rv, terminal: terminal, frame: []byte(kind)}
}

func TestQueue(t *testing.T) {
	type push struct {
		name     string
		rv       int64
		kind     wire.Kind
		terminal bool
	}
	tests := []struct {
		name   string
		pushes []push
		want   []string
	}{
		{"empty", nil, []string{}},
		{"one", []push{{"a", 1, wire.KindStatus, false}}, []string{"status a@1"}},
		{"order of versions across casts", []push{{"a", 1, wire.KindStatus, false}, {"b", 2, wire.KindProgress, false}, {"c", 3, wire.KindComplete, true}},
			[]string{"status a@1", "progress b@2", "complete c@3"}},
		{"a replaced update moves to the back", []push{{"a", 1, wire.KindProgress, false}, {"b", 2, wire.KindProgress, false}, {"a", 3, wire.KindProgress, false}},
			[]string{"progress b@2", "progress a@3"}},
		{"status then progress is sent as status", []push{{"a", 1, wire.KindStatus, false}, {"a", 2, wire.KindProgress, false}},
			[]string{"status a@2"}},
		{"complete then cost stays complete", []push{{"a", 1, wire.KindComplete, true}, {"a", 2, wire.KindStatus, true}},
			[]string{"complete a@2"}},
		{"complete then a re-run is status", []push{{"a", 1, wire.KindComplete, true}, {"a", 2, wire.KindProgress, false}},
			[]string{"status a@2"}},
		{"deleted wins", []push{{"a", 1, wire.KindStatus, false}, {"a", 2, wire.KindDeleted, false}}, []string{"deleted a@2"}},
		{"recreated after deletion", []push{{"a", 1, wire.KindDeleted, false}, {"a", 2, wire.KindProgress, false}}, []string{"progress a@2"}},
		{"many replacements of one cast keep one", []push{{"a", 1, wire.KindProgress, false}, {"a", 2, wire.KindProgress, false},
			{"a", 3, wire.KindProgress, false}, {"a", 4, wire.KindProgress, false}, {"a", 5, wire.KindProgress, false}, {"a", 6, wire.KindProgress, false},
			{"a", 7, wire.KindProgress, false}, {"a", 8, wire.KindProgress, false}, {"a", 9, wire.KindProgress, false}, {"a", 10, wire.KindProgress, false},
			{"a", 11, wire.KindProgress, false}, {"b", 12, wire.KindStatus, false}, {"a", 13, wire.KindProgress, false}},
			[]string{"status b@12", "progress a@13"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSubscriber(Filter{})
			for _, p := range tt.pushes {
				s.push(upd(p.name, p.rv, p.kind, p.terminal))
			}
			if s.pending.len() != len(tt.want) {
				t.Errorf("len = %d, want %d", s.pending.len(), len(tt.want))
			}
			got := s.DrainTo(nil)
			equal(t, kinds(got), tt.want)
			for _, u := range got {
				if f := u.Frame(); f != nil && string(f) != string(u.Kind) {
					t.Errorf("%s@%s carries the frame of kind %s", u.Kind, u.ID, f)
				}
			}
			if len(s.DrainTo(nil)) != 0 || s.pending.len() != 0 {
				t.Error("a drained queue is not empty")
			}
		})
	}
}

// TestQueueMatchesModel drives the queue through long random runs, over
// few Casts (the linear scan) and many (the index, compaction, a dropped
// large array), and checks every drain against the plain definition:
// each Cast's latest update with the coalesced kind, in push order of
// those latest updates.
func TestQueueMatchesModel(t *testing.T) {
	kindsByN := []wire.Kind{wire.KindProgress, wire.KindStatus, wire.KindComplete, wire.KindDeleted}
	for _, casts := range []int{1, 3, linearMax, linearMax + 1, 40, 600} {
		t.Run(strconv.Itoa(casts)+" casts", func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(casts), 7))
			s := newSubscriber(Filter{})
			var model []*Update
			var dst []*Update
			rv := int64(0)
			for step := range 20000 {
				if rng.IntN(4*casts+1) == 0 || step == 19999 {
					dst = s.DrainTo(dst[:0])
					equal(t, kinds(dst), kinds(model))
					if len(s.pending.items) > 2*s.pending.live+linearMax {
						t.Fatalf("%d slots for %d updates", len(s.pending.items), s.pending.live)
					}
					model = model[:0]
					continue
				}
				rv++
				k := kindsByN[rng.IntN(len(kindsByN))]
				u := upd("c"+strconv.Itoa(rng.IntN(casts)), rv, k, k == wire.KindComplete || rng.IntN(3) == 0)
				s.push(u)
				if i := slices.IndexFunc(model, func(o *Update) bool { return o.Key == u.Key }); i >= 0 {
					u = s.merge(model[i], u)
					model = slices.Delete(model, i, i+1)
				}
				model = append(model, u)
				if s.pending.len() != len(model) {
					t.Fatalf("step %d: len %d, want %d", step, s.pending.len(), len(model))
				}
			}
		})
	}
}

// A stream is woken by the first update of a batch; the rest are in the
// Drain it then makes, so they need no wake-up of their own.
func TestSubscriberWakesOncePerBatch(t *testing.T) {
	s := newSubscriber(Filter{})
	ready := func() bool {
		select {
		case <-s.Ready():
			return true
		default:
			return false
		}
	}
	for round := range 3 {
		s.push(upd("a", int64(3*round+1), wire.KindStatus, false))
		if !ready() {
			t.Fatalf("round %d: no wake-up for the first update", round)
		}
		s.push(upd("b", int64(3*round+2), wire.KindStatus, false))
		s.push(upd("a", int64(3*round+3), wire.KindProgress, false))
		if ready() {
			t.Fatalf("round %d: woken again before draining", round)
		}
		if got := len(s.DrainTo(nil)); got != 2 {
			t.Fatalf("round %d: drained %d updates, want 2", round, got)
		}
	}
}

func TestSubSetRemovesAnyMember(t *testing.T) {
	ss := &subSet{pos: map[*Subscriber]int{}}
	subs := make([]*Subscriber, 5)
	for i := range subs {
		subs[i] = newSubscriber(Filter{})
		ss.add(subs[i])
	}
	ss.add(subs[0]) // twice is once
	for _, i := range []int{0, 4, 2} {
		ss.remove(subs[i])
		ss.remove(subs[i]) // twice is once
	}
	if len(ss.subs) != 2 || len(ss.pos) != 2 {
		t.Fatalf("%d members, %d positions; want 2", len(ss.subs), len(ss.pos))
	}
	for _, i := range []int{1, 3} {
		if p, ok := ss.pos[subs[i]]; !ok || ss.subs[p] != subs[i] {
			t.Errorf("subscriber %d lost or misplaced", i)
		}
	}
}
