package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// wireEvents parses what the streamer sent on one stream.
func wireEvents(body string) []sse.Message {
	p := sse.NewParser(strings.NewReader(body))
	var out []sse.Message
	for {
		m, err := p.Next()
		if err != nil {
			Expect(err).To(Equal(io.EOF))
			return out
		}
		out = append(out, m)
	}
}

func wireName(m sse.Message) string {
	var s wire.Snapshot
	_ = json.Unmarshal([]byte(m.Data), &s)
	return s.Name
}

var ctx = context.Background()

var _ = Describe("Subscribing through streamer restarts", func() {
	var (
		ns, token string
		s         *runningStreamer
	)
	BeforeEach(func() {
		ns = newNamespace()
		token = readerToken(ns, "reader", true)
		s = startStreamerAt("127.0.0.1:0", streamer.Options{})
	})

	It("delivers a state reached while the streamer was down, and reports Casts deleted meanwhile", func() {
		x := createCast(ns, "x")
		y := createCast(ns, "y")
		createCast(ns, "z")
		single, _ := subscribe(s.url, token, Scope{Namespace: ns, Name: "x"}, nil)
		rec := &recorder{}
		all, _ := subscribe(s.url, token, Scope{Namespace: ns}, rec)
		Eventually(all.synced).Should(Equal(1))
		Eventually(func() int { return len(single.of("x")) }).Should(Equal(1))

		s.stop()
		Expect(updateStatus(x, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message = castv1alpha1.PhaseSucceeded, 100, "done"
		})).To(Succeed())
		Expect(k8s.Delete(ctx, y)).To(Succeed())
		time.Sleep(500 * time.Millisecond) // an outage: clients retry and fail meanwhile
		s = startStreamerAt(s.addr, streamer.Options{})

		Eventually(single.closed).Should(BeClosed())
		Expect(single.sub.Err()).NotTo(HaveOccurred())
		final := single.last("x")
		Expect(final.Type).To(Equal(wire.KindComplete))
		Expect(final.Cast.Status).To(Equal(castv1alpha1.PhaseSucceeded))
		Expect(final.Cast.Message).To(Equal("done"))

		Eventually(func() wire.Kind { return all.last("x").Type }).Should(Equal(wire.KindComplete))
		Eventually(func() wire.Kind { return all.last("y").Type }).Should(Equal(wire.KindDeleted),
			"the new streamer never saw y's deletion: the client must report it")
		Expect(all.of("z")).To(HaveLen(1), "z did not change")
		streams := rec.streams()
		Expect(streams).To(HaveLen(2))
		Expect(streams[len(streams)-1]).NotTo(ContainSubstring("event: deleted"), "the deletion is the client's own finding")
	})

	It("checks the list when a resumed batch cannot tell an unchanged Cast from a deleted one", func() {
		p := createCast(ns, "p")
		q := createCast(ns, "q")
		rec := &recorder{}
		all, _ := subscribe(s.url, token, Scope{Namespace: ns}, rec)
		Eventually(all.synced).Should(Equal(1))

		s.stop()
		Expect(updateStatus(p, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseRunning })).To(Succeed())
		Expect(k8s.Delete(ctx, q)).To(Succeed())
		s = startStreamerAt(s.addr, streamer.Options{})

		Eventually(all.synced).Should(Equal(2))
		Expect(all.last("p").Cast.Status).To(Equal(castv1alpha1.PhaseRunning))
		Expect(all.last("q").Type).To(Equal(wire.KindDeleted))
		Expect(rec.allPaths()).To(ContainElement("/api/v1/namespaces/" + ns + "/casts"))
	})

	It("ends a single-Cast subscription when the Cast was deleted during the outage", func() {
		c := createCast(ns, "gone")
		single, _ := subscribe(s.url, token, Scope{Namespace: ns, Name: "gone"}, nil)
		Eventually(func() int { return len(single.of("gone")) }).Should(Equal(1))
		s.stop()
		Expect(k8s.Delete(ctx, c)).To(Succeed())
		s = startStreamerAt(s.addr, streamer.Options{})
		Eventually(single.closed).Should(BeClosed())
		Expect(single.sub.Err()).NotTo(HaveOccurred())
		Expect(single.last("gone").Type).To(Equal(wire.KindDeleted))
	})

	It("never delivers a Cast's states out of order, through rapid updates and restarts", func() {
		const casts, steps = 4, 50
		var objs []*castv1alpha1.Cast
		for i := range casts {
			objs = append(objs, createCast(ns, fmt.Sprintf("rapid-%d", i)))
		}
		rec := &recorder{}
		all, _ := subscribe(s.url, token, Scope{Namespace: ns}, rec)
		Eventually(all.synced).Should(Equal(1))

		// Each phase moves every Cast through progress [from, to] at once.
		run := func(from, to int) *sync.WaitGroup {
			var wg sync.WaitGroup
			for _, c := range objs {
				wg.Go(func() {
					defer GinkgoRecover()
					for p := from; p <= to; p++ {
						Expect(updateStatus(c, func(st *castv1alpha1.CastStatus) {
							st.Phase, st.Progress, st.Message = castv1alpha1.PhaseRunning, int32(p), "step "+strconv.Itoa(p)
							if p == steps {
								st.Phase = castv1alpha1.PhaseSucceeded
							}
						})).To(Succeed())
					}
				})
			}
			return &wg
		}
		run(1, 20).Wait()
		s.stop()
		run(21, 35).Wait()
		s = startStreamerAt(s.addr, streamer.Options{})
		Eventually(all.synced).Should(Equal(2), "resumed on the second streamer")
		wg := run(36, steps)
		Eventually(func() int32 { return all.last(objs[0].Name).Cast.Progress }).Should(BeNumerically(">", 36))
		s = s.restart(streamer.Options{}) // while the updates go on
		wg.Wait()

		for _, c := range objs {
			Eventually(func() castv1alpha1.CastPhase { return all.last(c.Name).Cast.Status }).Should(Equal(castv1alpha1.PhaseSucceeded))
			final := all.last(c.Name).Cast
			Expect(final.Progress).To(BeEquivalentTo(steps))
			var prev int64
			for _, ev := range all.of(c.Name) {
				rv, err := strconv.ParseInt(ev.ID, 10, 64)
				Expect(err).NotTo(HaveOccurred())
				Expect(rv).To(BeNumerically(">", prev), "%s: %s after resourceVersion %d", c.Name, ev.Type, prev)
				prev = rv
			}
		}
		Eventually(func() int { return len(rec.streams()) }).Should(BeNumerically(">=", 3), "the streamer restarts forced reconnects")
	})
})

var _ = Describe("Resuming from Last-Event-ID", func() {
	It("is sent only what changed after each reconnect", func() {
		ns := newNamespace()
		token := readerToken(ns, "reader", true)
		s := startStreamerAt("127.0.0.1:0", streamer.Options{MaxStreamDuration: time.Second})
		a := createCast(ns, "changing")
		createCast(ns, "steady")
		rec := &recorder{}
		all, _ := subscribe(s.url, token, Scope{Namespace: ns}, rec)

		for round := 1; round <= 3; round++ {
			Eventually(all.synced, 5*time.Second).Should(BeNumerically(">=", round), "each stream ends after a second; the client resumes")
			Expect(updateStatus(a, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, int32(round) })).To(Succeed())
			Eventually(func() int32 { return all.last("changing").Cast.Progress }).Should(BeEquivalentTo(round))
		}
		Eventually(all.synced, 5*time.Second).Should(BeNumerically(">=", 4))

		streams := rec.streams()
		Expect(len(streams)).To(BeNumerically(">=", 4))
		steady := 0
		for i, body := range streams {
			for _, m := range wireEvents(body) {
				if m.Event != "synced" && wireName(m) == "steady" {
					steady++
					Expect(i).To(Equal(0), "an unchanged Cast is sent on the first stream only")
				}
			}
		}
		Expect(steady).To(Equal(1))
		Expect(all.of("steady")).To(HaveLen(1))
		ids := rec.streamLastIDs()
		Expect(ids[0]).To(BeEmpty())
		for _, id := range ids[1:] {
			Expect(id).NotTo(BeEmpty(), "every reconnect resumes")
		}
	})
})

var _ = Describe("Single-Cast and refused subscriptions", func() {
	var (
		ns string
		s  *runningStreamer
	)
	BeforeEach(func() {
		ns = newNamespace()
		s = startStreamerAt("127.0.0.1:0", streamer.Options{})
	})

	It("closes after the Cast's complete event with no error", func() {
		token := readerToken(ns, "reader", true)
		c := createCast(ns, "one")
		single, _ := subscribe(s.url, token, Scope{Namespace: ns, Name: "one"}, nil)
		Eventually(func() int { return len(single.of("one")) }).Should(Equal(1))
		Expect(updateStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseRunning })).To(Succeed())
		Eventually(func() castv1alpha1.CastPhase { return single.last("one").Cast.Status }).Should(Equal(castv1alpha1.PhaseRunning))
		Expect(updateStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseFailed })).To(Succeed())
		Eventually(single.closed).Should(BeClosed())
		Expect(single.sub.Err()).NotTo(HaveOccurred())
		types := []wire.Kind{}
		for _, ev := range single.all() {
			types = append(types, ev.Type)
		}
		Expect(types).To(Equal([]wire.Kind{wire.KindStatus, wire.KindStatus, wire.KindComplete}))
	})

	DescribeTable("gives up at once on a refusal no retry can fix",
		func(allowed bool, token string, want error) {
			if token == "" {
				token = readerToken(ns, "stranger", allowed)
			}
			rec := &recorder{}
			sub, _ := subscribe(s.url, token, Scope{Namespace: ns}, rec)
			Eventually(sub.closed).Should(BeClosed())
			Expect(errors.Is(sub.sub.Err(), want)).To(BeTrue(), "got %v", sub.sub.Err())
			var se *StatusError
			Expect(errors.As(sub.sub.Err(), &se)).To(BeTrue())
			Expect(se.Message).NotTo(BeEmpty(), "the streamer's reason is kept")
			Consistently(rec.requests, time.Second).Should(Equal(1), "no retry loop")
		},
		Entry("403 for an identity without RBAC", false, "", ErrForbidden),
		Entry("401 for a token the API server rejects", false, "not-a-token", ErrUnauthorized),
	)

	It("reports a Cast that does not exist as ErrNotFound", func() {
		token := readerToken(ns, "reader", true)
		sub, _ := subscribe(s.url, token, Scope{Namespace: ns, Name: "absent"}, nil)
		Eventually(sub.closed).Should(BeClosed())
		Expect(errors.Is(sub.sub.Err(), ErrNotFound)).To(BeTrue(), "got %v", sub.sub.Err())
	})
})
