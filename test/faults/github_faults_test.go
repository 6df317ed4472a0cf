package faults

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

var _ = Describe("GitHub API failing", Label("controller", "github"), func() {
	succeeded := func(int) castv1alpha1.CastPhase { return castv1alpha1.PhaseSucceeded }

	// perRun counts each run's requests among the fake's requests [from, to).
	perRun := func(op *operator, ids []int64, from, to int) []int {
		reqs := op.gh.Requests()[from:to]
		out := make([]int, len(ids))
		for i, id := range ids {
			for _, r := range reqs {
				if touchesRun(r.Path, id) {
					out[i]++
				}
			}
		}
		return out
	}

	It("with 500s for 25 s: each Cast backs off (no hot loop) and all converge soon after GitHub recovers", func(ctx SpecContext) {
		const n, outage = 10, 25 * time.Second
		op := newOperator()
		ns := newNamespace("github-500")
		ids := op.addRuns(7_100_000, n, "completed", func(int) string { return "success" })
		op.gh.InjectFault(ghapitest.Fault{PathContains: "/actions/runs/", Status: http.StatusInternalServerError})
		op.start()
		keys := createAttached(ctx, ns, ids)
		start := time.Now()

		time.Sleep(outage / 2)
		half := len(op.gh.Requests())
		time.Sleep(outage - time.Since(start))
		end := len(op.gh.Requests())
		Expect(count(phases(ctx, keys), func(p castv1alpha1.CastPhase) bool { return p.IsTerminal() })).To(BeZero())
		op.gh.ClearFaults()
		recovered := time.Now()

		all, late := perRun(op, ids, 0, end), perRun(op, ids, half, end)
		figure("requests per run during a 25 s outage (max)", slices.Max(all))
		figure("requests per run in the outage's second half (max)", slices.Max(late))
		// Exponential backoff from 5 ms reaches seconds after ~10 tries; a
		// hot loop would keep going at the first rate.
		// At most: the ramp from 5 ms to the resync interval (~10 tries),
		// then one per interval.
		Expect(slices.Max(all)).To(BeNumerically("<=", 12+int(outage/resync)), "requests per run: %v", all)
		Expect(slices.Max(late)).To(BeNumerically("<=", 2+int(outage/2/resync)), "requests per run in the second half: %v", late)

		// The promise after an outage is the resync interval, not the
		// backoff an outage built up: a Cast GitHub could answer about
		// again is re-read within about one interval.
		// (5 intervals: slack for a loaded machine; before the backoff was
		// capped this took 16 s here, and up to 16 minutes in production.)
		Eventually(allFinished(ctx, keys, succeeded)).WithTimeout(5 * resync).WithPolling(100 * time.Millisecond).Should(Succeed())
		figure("converged after GitHub recovered", time.Since(recovered).Round(10*time.Millisecond).String())
	})

	It("with 429 and an exhausted rate limit: sends nothing until the reset GitHub named, then converges", func(ctx SpecContext) {
		const n = 10
		op := newOperator()
		ns := newNamespace("github-429")
		ids := op.addRuns(7_200_000, n, "completed", func(int) string { return "success" })
		op.start()
		// The token's budget is spent until reset, as GitHub keeps it:
		// the first request gets a 429, any other one before the reset a
		// 403, both with X-RateLimit-Remaining: 0.
		reset := time.Now().Add(6 * time.Second).Truncate(time.Second)
		op.gh.SetRateLimit(0, reset)
		op.gh.RateLimitNext(1, http.StatusTooManyRequests, reset)
		keys := createAttached(ctx, ns, ids)

		// Until the reset (whole seconds, as GitHub sends it) nothing but
		// the 429 and requests already in flight on the controller's
		// other workers may reach GitHub.
		Eventually(func() int { return len(op.gh.Requests()) }).Should(BeNumerically(">=", 1))
		time.Sleep(time.Until(reset) - 200*time.Millisecond)
		during := len(op.gh.Requests()) - 1
		figure("requests between the 429 and the reset", during)
		Expect(during).To(BeNumerically("<=", 3), "requests sent while the rate limit was exhausted")

		Eventually(allFinished(ctx, keys, succeeded)).WithTimeout(30 * time.Second).Should(Succeed())
		figure("converged after the reset", time.Since(reset).Round(10*time.Millisecond).String())
		reqs := op.gh.Requests()
		figure("requests in total for 10 Casts (1 rate-limited)", len(reqs))
	})

	It("hanging: a request stalls one Cast for at most the client timeout, other Casts keep moving, and it converges", Label(LabelLong), func(ctx SpecContext) {
		op := newOperator()
		ns := newNamespace("github-hang")
		ids := op.addRuns(7_300_000, 6, "completed", func(int) string { return "success" })
		op.gh.InjectFault(ghapitest.Fault{PathContains: fmt.Sprintf("/actions/runs/%d", ids[0]), Times: 1, Hang: true})
		op.start()
		stuck := createAttached(ctx, ns, ids[:1])
		Eventually(func() int { return op.runRequests(ids[0], 0) }).Should(Equal(1))
		hung := time.Now()

		others := createAttached(ctx, ns, ids[1:])
		Eventually(allFinished(ctx, others, succeeded)).WithTimeout(10*time.Second).Should(Succeed(),
			"Casts whose GitHub calls work must not wait for a hung one")
		figure("other Casts converged while one request hung", time.Since(hung).Round(10*time.Millisecond).String())

		Eventually(allFinished(ctx, stuck, succeeded)).WithTimeout(90 * time.Second).Should(Succeed())
		figure("the hung Cast converged after", time.Since(hung).Round(time.Second).String())
		figure("requests for the hung run", op.runRequests(ids[0], 0))
		Expect(op.runRequests(ids[0], 0)).To(BeNumerically("<=", 5))
	})
})
