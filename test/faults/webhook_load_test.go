package faults

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

var _ = Describe("Webhooks at load", Label("controller", "webhooks"), func() {
	It("replayed, duplicated, reordered and for unknown runs, from 8 senders: every Cast ends in the phase of its completed event", func(ctx SpecContext) {
		const n, senders = 200, 8
		op := newOperator()
		ns := newNamespace("webhook-load")
		// GitHub's REST view stays "in progress" throughout: only the
		// webhooks can finish these Casts.
		ids := op.addRuns(7_400_000, n, "in_progress", nil)
		op.start()
		keys := createAttached(ctx, ns, ids)
		// GitHub sends nothing for a run before the operator knows it, and
		// an unmatched delivery is not retried: wait until the controller
		// has seen every Cast (it wrote a phase) before sending.
		Eventually(func() []castv1alpha1.CastPhase { return phases(ctx, keys) }).
			WithTimeout(time.Minute).ShouldNot(ContainElement(castv1alpha1.CastPhase("")))

		t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		var all []delivery
		for i, id := range ids {
			at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
			life := []delivery{
				runDelivery(id, "requested", "", t0, at(0)),
				runDelivery(id, "in_progress", "", t0, at(1)),
				jobDelivery(id, "in_progress", 1, at(1)),
				jobDelivery(id, "completed", 2, at(1)),
				runDelivery(id, "completed", conclusionOf(i), t0, at(3)),
			}
			for _, d := range life {
				// Each delivery twice under its ID (a redelivery), and one
				// in five again under a new ID (GitHub sending it twice).
				all = append(all, d, d)
				if rand.IntN(5) == 0 {
					dup := d
					dup.ID += "-again"
					all = append(all, dup)
				}
			}
		}
		unknown := 0
		for i := range n {
			all = append(all, runDelivery(9_900_000+int64(i), "completed", "success", t0, t0.Add(time.Minute)))
			unknown++
		}
		rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

		By(fmt.Sprintf("%d deliveries from %d senders", len(all), senders))
		var (
			next                 atomic.Int64
			accepted, duplicates atomic.Int64
			unmatched            atomic.Int64
			mu                   sync.Mutex
			retry                []delivery
			unexpected           []string
		)
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
		send := func(list []delivery) {
			next.Store(0)
			var wg sync.WaitGroup
			for range senders {
				wg.Go(func() {
					defer GinkgoRecover()
					for i := next.Add(1) - 1; i < int64(len(list)); i = next.Add(1) - 1 {
						d := list[i]
						code, body, err := post(hc, op.webhookURL(), webhookSecret, d)
						Expect(err).NotTo(HaveOccurred())
						mu.Lock()
						switch {
						case code == http.StatusAccepted && strings.HasPrefix(body, "stored in 1 cast"):
							accepted.Add(1)
						case code == http.StatusOK && strings.HasPrefix(body, "duplicate delivery"):
							duplicates.Add(1)
						case code == http.StatusAccepted && strings.HasPrefix(body, "no cast tracks"):
							unmatched.Add(1)
							if !strings.Contains(body, "run 99") {
								// The controller's cache has not seen this
								// Cast yet: a redelivery gets through.
								retry = append(retry, d)
							}
						default:
							unexpected = append(unexpected, fmt.Sprintf("%s: %d %s", d.ID, code, body))
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
		}
		start := time.Now()
		send(all)
		for attempt := 0; len(retry) > 0 && attempt < 10; attempt++ {
			list := retry
			retry = nil
			time.Sleep(500 * time.Millisecond)
			send(list)
		}
		sent := time.Since(start)
		Expect(unexpected).To(BeEmpty())
		Expect(retry).To(BeEmpty(), "deliveries no Cast took after 10 redeliveries")
		Expect(unmatched.Load()).To(BeNumerically(">=", unknown))
		figure("deliveries sent (incl. replays, duplicates, unknown runs)", len(all))
		figure("delivery throughput", fmt.Sprintf("%.0f/s over %s", float64(len(all))/sent.Seconds(), sent.Round(10*time.Millisecond)))
		figure("answered: delivered / duplicate / unmatched", fmt.Sprintf("%d / %d / %d", accepted.Load(), duplicates.Load(), unmatched.Load()))

		Eventually(allFinished(ctx, keys, func(i int) castv1alpha1.CastPhase { return phaseFor(conclusionOf(i)) })).
			WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
		figure("200 Casts final after the last delivery", time.Since(start.Add(sent)).Round(10*time.Millisecond).String())
	})
})
