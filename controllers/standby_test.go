package controllers

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// A standby replica runs the webhook receiver and its inbox, never the
// reconciler; its own cache is all that tells it a Cast is gone.
var _ = Describe("A standby replica's inbox", func() {
	It("forgets what it holds for a Cast once the Cast is deleted", func(ctx SpecContext) {
		standby, err := cache.New(cfg, cache.Options{Scheme: localcluster.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		inbox := NewInbox()
		Expect(inbox.ForgetDeleted(ctx, standby)).To(Succeed())
		cacheCtx, stop := context.WithCancel(context.Background())
		DeferCleanup(stop)
		go func() { _ = standby.Start(cacheCtx) }()
		Expect(standby.WaitForCacheSync(ctx)).To(BeTrue())

		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "standby-"}}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		runID := int64(4_400_001)
		cast := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "held"},
			Spec: castv1alpha1.CastSpec{Repository: "spell-platform/spells", Workflow: "cast.yml", RunID: &runID}}
		Expect(k8s.Create(ctx, cast)).To(Succeed())
		key := client.ObjectKeyFromObject(cast)
		inbox.Deliver(key, runstatus.Observation{Run: &runstatus.Run{ID: runID, Status: "in_progress"}})
		inbox.Deliver(key, runstatus.Observation{Job: &runstatus.Job{ID: runID * 10, Status: "in_progress"}})
		Expect(inbox.Jobs(key)).To(HaveLen(1))

		Expect(k8s.Delete(ctx, cast)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, key, &castv1alpha1.Cast{})) }).Should(BeTrue())
		Eventually(func() int {
			runs, jobs := inbox.Take(key)
			inbox.Return(key, runs)
			return len(runs) + len(jobs)
		}).Should(BeZero())
	})
})
