package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// Receipt is what every replica, leader or not, runs before answering
// GitHub: these specs drive it as a standby would, with a client of its
// own and no reconciler behind it, and read the result from the API
// server.
var _ = Describe("Webhook receipt", func() {
	var (
		standby *Receipt
		ns      string
	)
	BeforeEach(func(ctx SpecContext) {
		c, err := client.New(cfg, client.Options{Scheme: localcluster.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		standby = &Receipt{Client: c, Reader: c}
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "receipt-"}}
		Expect(k8s.Create(ctx, n)).To(Succeed())
		ns = n.Name
	})

	attached := func(ctx context.Context, name string, runID int64) client.ObjectKey {
		cast := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: castv1alpha1.CastSpec{Repository: "spell-platform/spells", Workflow: "cast.yml", RunID: &runID}}
		Expect(k8s.Create(ctx, cast)).To(Succeed())
		return client.ObjectKeyFromObject(cast)
	}

	It("has stored the news in the Cast when it returns, before any reconcile", func(ctx SpecContext) {
		key := attached(ctx, "stored", 5_500_001)
		started := time.Now().UTC().Truncate(time.Second)
		Expect(standby.Record(ctx, key, runstatus.Observation{Run: &runstatus.Run{ID: 5_500_001, Attempt: 1,
			Status: "in_progress", StartedAt: started, UpdatedAt: started}})).To(Succeed())

		got := &castv1alpha1.Cast{}
		Expect(k8s.Get(ctx, key, got)).To(Succeed())
		Expect(got.Status.Phase).To(Equal(castv1alpha1.PhaseRunning))
		Expect(got.Status.RunID).To(Equal(int64(5_500_001)))
		// A Cast no reconcile has seen gets its whole first status, so
		// `kubectl wait` and kstatus read it right.
		Expect(got.Status.Conditions).To(ContainElement(HaveField("Type", castv1alpha1.ConditionDispatched)))
	})

	It("loses no news when many deliveries for one Cast race, on one replica or several", func(ctx SpecContext) {
		key := attached(ctx, "raced", 5_500_002)
		const jobs = 24
		var wg sync.WaitGroup
		errs := make(chan error, jobs)
		for i := range jobs {
			wg.Go(func() {
				// Two receipts, as two replicas behind one Service.
				r := standby
				if i%2 == 1 {
					c, err := client.New(cfg, client.Options{Scheme: localcluster.Scheme()})
					if err != nil {
						errs <- err
						return
					}
					r = &Receipt{Client: c, Reader: c}
				}
				errs <- r.Record(ctx, key, runstatus.Observation{Job: &runstatus.Job{ID: int64(100 + i), RunID: 5_500_002,
					Attempt: 1, Name: fmt.Sprintf("shard-%d", i), Status: "completed", Conclusion: "success"}})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			Expect(err).NotTo(HaveOccurred())
		}
		got := &castv1alpha1.Cast{}
		Expect(k8s.Get(ctx, key, got)).To(Succeed())
		Expect(got.Status.Jobs).To(HaveLen(jobs))
		Expect(got.Status.Message).To(Equal(fmt.Sprintf("%d of %d jobs done", jobs, jobs)))
	})

	It("answers for a Cast deleted meanwhile without an error: there is nothing left to keep", func(ctx SpecContext) {
		key := attached(ctx, "gone", 5_500_003)
		Expect(k8s.Delete(ctx, &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}})).To(Succeed())
		Expect(standby.Record(ctx, key, runstatus.Observation{Run: &runstatus.Run{ID: 5_500_003, Status: "queued"}})).To(Succeed())
	})

	It("gives up with an error when the API server cannot store it in time", func(ctx SpecContext) {
		key := attached(ctx, "late", 5_500_004)
		short, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-short.Done()
		Expect(standby.Record(short, key, runstatus.Observation{Run: &runstatus.Run{ID: 5_500_004, Status: "queued"}})).
			To(MatchError(ContainSubstring("context deadline exceeded")))
	})
})
