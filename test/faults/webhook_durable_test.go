package faults

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/journal"
	"github.com/spell-platform/cast-operator/controllers/webhook"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// noRepair keeps anything but webhooks from moving a Cast: GitHub's REST
// API fails every read and resync waits an hour, so what a Cast shows
// after a kill came from what the receivers stored before answering.
func noRepair(op *operator) []string {
	op.gh.InjectFault(ghapitest.Fault{Method: http.MethodGet, PathContains: "/actions/", Status: http.StatusBadGateway})
	return []string{"--resync-interval", "1h", "--webhook-resync-interval", "1h"}
}

var _ = Describe("Webhook receipt is durable", Label("controller"), func() {
	It("a leader SIGKILLed within a millisecond of answering 2xx has that delivery in the journal, and the next leader puts it in the Cast", func(ctx SpecContext) {
		const rounds = 5
		op := newOperator()
		ns := newNamespace("durable")
		args := append(noRepair(op), "--webhook-journal-namespace", ns)
		ids := op.addRuns(8_300_000, 1, "in_progress", nil)
		key := createAttached(ctx, ns, ids)[0]
		var gaps []time.Duration
		var jobs []int64
		for round := range rounds {
			leader := op.replica(args...)
			job := ids[0]*100 + int64(round)
			d := shardDelivery(ids[0], job, fmt.Sprintf("durable-%d", round))
			var gap time.Duration
			Eventually(func() string {
				code, body, killedAfter, err := postThenKill(leader, d)
				Expect(err).NotTo(HaveOccurred())
				if code == http.StatusAccepted && strings.HasPrefix(body, "stored in 1 cast") {
					gap = killedAfter
					return "killed"
				}
				// Not in this process's index yet: GitHub would redeliver.
				return fmt.Sprintf("%d %s", code, body)
			}).WithTimeout(30 * time.Second).Should(Equal("killed"))
			Expect(leader.proc.Exited()).To(BeTrue())
			gaps = append(gaps, gap)
			jobs = append(jobs, job)
			// The 2xx meant stored: whatever the dead process had in mind,
			// the delivery is in the journal (or already in the Cast).
			Expect(journalJobs(ctx, ns)).To(ContainElement(job), "round %d: job %d answered 2xx but not stored", round, job)
		}
		figure("SIGKILL sent after the 2xx was read (per round)", fmt.Sprint(gaps))

		By("a new leader, with GitHub's REST API failing and resync an hour away, applies the journal")
		started := time.Now()
		op.replica(args...)
		Eventually(func() []int64 {
			var cast castv1alpha1.Cast
			Expect(k8s.Get(ctx, key, &cast)).To(Succeed())
			return jobIDs(cast.Status.Jobs, "completed")
		}).WithTimeout(30 * time.Second).Should(ConsistOf(jobs))
		figure("every 2xx'd delivery in the Cast after the new leader started", time.Since(started).Round(10*time.Millisecond).String())
		Eventually(func() []int64 { return journalJobs(ctx, ns) }).Should(BeEmpty(), "applied batches are deleted")
	})

	It("deliveries spread over two replicas while the leader is SIGKILLed: no 2xx for news that is then missing", func(ctx SpecContext) {
		const casts, jobsPerCast, senders = 20, 12, 8
		op := newOperator()
		ns := newNamespace("durable-lb")
		elect := append(noRepair(op), "--webhook-journal-namespace", ns, "--leader-elect", "--leader-elect-namespace", ns,
			"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms")
		ids := op.addRuns(8_400_000, casts, "in_progress", nil)
		a := op.replica(elect...)
		Eventually(leaseHolder(ctx, ns)).ShouldNot(BeEmpty())
		b := op.replica(elect...)
		replicas := []*controllerReplica{a, b}
		keys := createAttached(ctx, ns, ids)

		type sent struct {
			cast int
			job  int64
		}
		queue := make(chan sent, casts*jobsPerCast)
		for k := range jobsPerCast {
			for i, id := range ids {
				queue <- sent{i, id*100 + int64(k)}
			}
		}
		close(queue)
		var (
			mu      sync.Mutex
			acked   []sent
			byAddr  = map[string]int{}
			refused atomic.Int64
			seq     atomic.Int64
		)
		killAt := casts * jobsPerCast / 3
		var killOnce sync.Once
		var killed time.Time
		hc := &http.Client{Timeout: 15 * time.Second}
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() {
				defer GinkgoRecover()
				for s := range queue {
					d := shardDelivery(ids[s.cast], s.job, fmt.Sprintf("lb-%d", s.job))
					// A Service routes each delivery to one Pod; a dead Pod's
					// connection is refused and the next try goes elsewhere.
					for attempt := 0; attempt < 50; attempt++ {
						r := replicas[int(seq.Add(1))%len(replicas)]
						code, body, err := post(hc, r.webhookURL(), webhookSecret, d)
						if err == nil && code == http.StatusAccepted && strings.HasPrefix(body, "stored in 1 cast") {
							mu.Lock()
							acked = append(acked, s)
							byAddr[r.webhookAddr]++
							n := len(acked)
							mu.Unlock()
							if n == killAt {
								killOnce.Do(func() { a.proc.Kill(); killed = time.Now() })
							}
							break
						}
						refused.Add(1)
						time.Sleep(20 * time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		Expect(a.proc.Exited()).To(BeTrue(), "the leader must have been killed mid-stream")
		figure("deliveries answered 2xx (by replica)", fmt.Sprintf("%d of %d (%v); %d tries refused or 5xx", len(acked), casts*jobsPerCast, byAddr, refused.Load()))
		Expect(acked).To(HaveLen(casts*jobsPerCast), "every delivery must have been stored by a live replica")
		Expect(byAddr[b.webhookAddr]).To(BeNumerically(">", casts*jobsPerCast/2), "the standby must have stored deliveries too")

		// Only the journal can have put the jobs there: REST fails and
		// resync is an hour away.
		missing := func() int {
			n := 0
			for _, s := range acked {
				var cast castv1alpha1.Cast
				Expect(k8s.Get(ctx, keys[s.cast], &cast)).To(Succeed())
				if !slices.Contains(jobIDs(cast.Status.Jobs, "completed"), s.job) {
					n++
				}
			}
			return n
		}
		Eventually(missing).WithTimeout(time.Minute).Should(BeZero(), "deliveries answered 2xx whose effect is missing")
		figure("every 2xx'd delivery in its Cast after the kill", time.Since(killed).Round(10*time.Millisecond).String())
		Eventually(func() []int64 { return journalJobs(ctx, ns) }).Should(BeEmpty(), "applied batches are deleted")
	})
})

// journalJobs lists the job IDs the webhook journal in ns holds.
func journalJobs(ctx context.Context, ns string) []int64 {
	GinkgoHelper()
	var list corev1.ConfigMapList
	Expect(k8s.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{journal.Label: journal.LabelValue})).To(Succeed())
	var out []int64
	for i := range list.Items {
		entries, err := journal.Decode(&list.Items[i])
		Expect(err).NotTo(HaveOccurred())
		for _, e := range entries {
			if e.Job != nil {
				out = append(out, e.Job.ID)
			}
		}
	}
	return out
}

// shardDelivery is a completed workflow_job for one of a run's many jobs:
// each has an effect of its own (the job in status.jobs) to look for.
func shardDelivery(runID, jobID int64, id string) delivery {
	started := time.Now().Add(-time.Minute)
	job := &whJob{ID: jobID, RunID: runID, RunAttempt: 1, Name: fmt.Sprintf("shard %d", jobID%100), Status: "completed",
		Conclusion: optional("success"), Labels: []string{"ubuntu-latest"}, StartedAt: rfc(started),
		CompletedAt: optional(rfc(started.Add(30 * time.Second))),
		Steps:       []whStep{{Number: 1, Name: "Shard", Status: "completed", Conclusion: optional("success")}}}
	return delivery{ID: id, Event: webhook.EventWorkflowJob, Body: encode(whDelivery{Action: "completed", WorkflowJob: job})}
}

// postThenKill sends d on a raw connection and SIGKILLs the replica the
// moment the response is read, if it is a 2xx: a crash right after the
// answer, before anything the process still had in mind could be done.
// It returns how long after reading the answer the signal went out.
func postThenKill(r *controllerReplica, d delivery) (code int, body string, killedAfter time.Duration, err error) {
	conn, err := net.DialTimeout("tcp", r.webhookAddr, 5*time.Second)
	if err != nil {
		return 0, "", 0, err
	}
	defer conn.Close()
	// A new delivery ID per try: a retry after "no cast tracks" is news.
	d.ID += "-" + fmt.Sprint(time.Now().UnixNano())
	req, err := signedRequest(r.webhookURL(), webhookSecret, d)
	if err != nil {
		return 0, "", 0, err
	}
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if err := req.Write(conn); err != nil {
		return 0, "", 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return 0, "", 0, err
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	read := time.Now()
	body = strings.TrimSpace(buf.String())
	if resp.StatusCode/100 == 2 && strings.HasPrefix(body, "stored in") {
		killedAfter = time.Since(read)
		r.proc.Kill()
	}
	return resp.StatusCode, body, killedAfter, nil
}

// jobIDs lists the IDs of the jobs with the given status.
func jobIDs(jobs []castv1alpha1.JobStatus, status string) []int64 {
	var out []int64
	for _, j := range jobs {
		if j.Status == status {
			out = append(out, j.ID)
		}
	}
	return out
}
