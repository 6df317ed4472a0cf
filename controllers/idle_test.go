package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// reconcilesSoFar reads controller-runtime's own count of the Cast
// controller's reconciles, all results summed, from the metrics registry.
func reconcilesSoFar() float64 {
	GinkgoHelper()
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	var n float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "cast" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// An idle Cast costs one reconcile per resync interval, whatever the
// operator can or cannot read on GitHub. Each spec runs a controller that
// sees only its own namespace, so the reconcile count is its Casts' alone.
var _ = Describe("Idle Casts", Ordered, func() {
	const (
		idleResync = 5 * time.Second
		window     = 2 * idleResync
		perGroup   = 40
	)

	// idleNamespace creates a namespace and runs a controller restricted
	// to it with opts; the suite's default controller comes back after.
	idleNamespace := func(prefix string, opts managerOptions) string {
		GinkgoHelper()
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		stopTheManager()
		opts.namespace, opts.resync = ns.Name, idleResync
		startManagerWith(opts)
		DeferCleanup(func() { stopTheManager(); startManager() })
		// Runs first: the spec's Casts go while their own controller still
		// runs (it lets their finalizers go), so the suite's controller does
		// not keep resyncing runs the fake GitHub never had, which slowed
		// every later spec under -race.
		DeferCleanup(func() {
			Expect(k8s.DeleteAllOf(ctx, &castv1alpha1.Cast{}, client.InNamespace(ns.Name))).To(Succeed())
			Eventually(func(g Gomega) {
				var list castv1alpha1.CastList
				g.Expect(k8s.List(ctx, &list, client.InNamespace(ns.Name))).To(Succeed())
				g.Expect(list.Items).To(BeEmpty())
			}).WithTimeout(60 * time.Second).Should(Succeed())
		})
		return ns.Name
	}

	createIdle := func(ns, prefix string, n int, firstRun int64, mutate func(*castv1alpha1.Cast)) {
		GinkgoHelper()
		for i := range n {
			id := firstRun + int64(i)
			c := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", prefix, i)},
				Spec: castv1alpha1.CastSpec{Repository: "idle-org/spells", Workflow: "cast.yml", RunID: &id}}
			if mutate != nil {
				mutate(c)
			}
			Expect(k8s.Create(ctx, c)).To(Succeed())
		}
	}

	// settleThenCount waits until the controller has written every Cast's
	// first status, lets the first round of requeues pass, then counts
	// reconciles over the window and holds them to one per Cast per resync
	// interval, plus one for a window that straddles a Cast's wake-up.
	settleThenCount := func(ns string, n int) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			var list castv1alpha1.CastList
			g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			g.Expect(list.Items).To(HaveLen(n))
			for _, c := range list.Items {
				g.Expect(c.Status.RunID).NotTo(BeZero(), c.Name)
				g.Expect(c.Status.Phase).NotTo(BeEmpty(), c.Name)
			}
		}).WithTimeout(60 * time.Second).Should(Succeed())
		time.Sleep(time.Second)
		before := reconcilesSoFar()
		time.Sleep(window)
		got := reconcilesSoFar() - before
		bound := float64(n) * (float64(window/idleResync) + 1)
		GinkgoWriter.Printf("idle: %d Casts, %.0f reconciles in %s (%.2f per Cast per %s resync interval)\n",
			n, got, window, got/float64(n)/float64(window/idleResync), idleResync)
		Expect(got).To(BeNumerically("<=", bound),
			"%d idle Casts were reconciled %.0f times in %s: %.2f per Cast per resync interval of %s",
			n, got, window, got/float64(n)/float64(window/idleResync), idleResync)
		// A cache limited to a namespace has no store of its own; the
		// phase gauge still counts what it holds.
		Eventually(gaugeMatches(client.InNamespace(ns))).Should(Succeed())
	}

	It("cost one reconcile per resync interval without a GitHub token", func() {
		ns := idleNamespace("idle-no-token-", managerOptions{github: ghapi.Options{BaseURL: fakeGitHub.URL}})
		createIdle(ns, "waiting", perGroup, 9_100_000, nil)
		createIdle(ns, "no-secret", perGroup, 9_200_000, func(c *castv1alpha1.Cast) {
			c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: "not-there"}
		})
		settleThenCount(ns, 2*perGroup)
	})

	It("cost one reconcile per resync interval with a token, queued runs and a missing Secret", func() {
		ns := idleNamespace("idle-token-", managerOptions{})
		for i := range perGroup {
			fakeGitHub.AddRun(ghapitest.Run{ID: 9_300_000 + int64(i), Repository: "idle-org/spells", Workflow: "cast.yml", Status: "queued"})
		}
		createIdle(ns, "queued", perGroup, 9_300_000, nil)
		createIdle(ns, "no-secret", perGroup, 9_400_000, func(c *castv1alpha1.Cast) {
			c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: "not-there"}
		})
		settleThenCount(ns, 2*perGroup)
	})
})
