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
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/journal"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/controllers/webhook"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// startWriter runs a journal writer of its own, as a standby replica's
// receiver would, writing into ns.
func startWriter(ns string) *journal.Writer {
	GinkgoHelper()
	c, err := client.New(cfg, client.Options{Scheme: localcluster.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	w := journal.NewWriter(c, ns)
	ctx, stop := context.WithCancel(context.Background())
	DeferCleanup(stop)
	go func() { _ = w.Start(ctx) }()
	return w
}

func journalBatches(ctx context.Context, ns string) []corev1.ConfigMap {
	GinkgoHelper()
	var list corev1.ConfigMapList
	Expect(k8s.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{journal.Label: journal.LabelValue})).To(Succeed())
	return list.Items
}

var _ = Describe("Webhook journal", func() {
	It("holds what a standby stored until the leader has it in the Cast, then is emptied", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "journal-"}}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		runID := int64(4_500_001)
		cast := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "stored"},
			Spec: castv1alpha1.CastSpec{Repository: "spell-platform/spells", Workflow: "cast.yml", RunID: &runID}}
		Expect(k8s.Create(ctx, cast)).To(Succeed())

		standby := startWriter(journalNamespace)
		Expect(standby.Store(ctx, "spell-platform/spells", []webhook.CastRef{{NamespacedName: client.ObjectKeyFromObject(cast), UID: cast.UID}},
			runstatus.Observation{Job: &runstatus.Job{ID: 77, RunID: runID, Attempt: 1, Name: "build", Status: "completed", Conclusion: "success"}})).
			To(Succeed())

		Eventually(func() []castv1alpha1.JobStatus {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cast), cast)).To(Succeed())
			return cast.Status.Jobs
		}).Should(ContainElement(HaveField("ID", int64(77))))
		Expect(cast.Status.Message).To(Equal("1 of 1 jobs done"))
		Eventually(func() []corev1.ConfigMap { return journalBatches(ctx, journalNamespace) }).Should(BeEmpty())
	})

	It("writes a burst of deliveries in a few batches, every one of them stored", func(ctx SpecContext) {
		// A namespace no leader reads, so the batches stay to be counted.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "journal-burst-"}}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		w := startWriter(ns.Name)
		const deliveries = 300
		var wg sync.WaitGroup
		errs := make(chan error, deliveries)
		for i := range deliveries {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
				defer cancel()
				errs <- w.Store(ctx, "spell-platform/spells", []webhook.CastRef{{NamespacedName: types.NamespacedName{Namespace: "team", Name: fmt.Sprintf("c-%d", i)}}},
					runstatus.Observation{Run: &runstatus.Run{ID: int64(i), Status: "in_progress"}})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			Expect(err).NotTo(HaveOccurred())
		}
		batches := journalBatches(ctx, ns.Name)
		stored := map[string]bool{}
		for i := range batches {
			entries, err := journal.Decode(&batches[i])
			Expect(err).NotTo(HaveOccurred())
			for _, e := range entries {
				stored[e.Name] = true
			}
		}
		Expect(stored).To(HaveLen(deliveries))
		Expect(len(batches)).To(BeNumerically("<", deliveries/3), "group commit should share writes")
		GinkgoWriter.Printf("%d deliveries in %d batches\n", deliveries, len(batches))
	})
})
