package controllers

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

var _ = Describe("Cast reconciler", func() {
	ctx := context.Background()

	get := func(cast *castv1alpha1.Cast) func(Gomega) *castv1alpha1.Cast {
		return func(g Gomega) *castv1alpha1.Cast {
			got := &castv1alpha1.Cast{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cast), got)).To(Succeed())
			return got
		}
	}

	It("gives a new Cast phase Pending and its conditions", func() {
		cast := &castv1alpha1.Cast{
			ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "default"},
			Spec:       castv1alpha1.CastSpec{Repository: "spell-platform/spells", Workflow: "cast.yml"},
		}
		Expect(k8s.Create(ctx, cast)).To(Succeed())

		Eventually(get(cast)).Should(HaveField("Status.Phase", castv1alpha1.PhasePending))
		got := get(cast)(Default)
		Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		Expect(got.Status.Message).To(Equal("waiting to dispatch cast.yml"))
		dispatched := meta.FindStatusCondition(got.Status.Conditions, castv1alpha1.ConditionDispatched)
		Expect(dispatched).NotTo(BeNil())
		Expect(dispatched.Status).To(Equal(metav1.ConditionFalse))
		Expect(dispatched.Reason).To(Equal(castv1alpha1.ReasonDispatchPending))
		Expect(meta.IsStatusConditionFalse(got.Status.Conditions, castv1alpha1.ConditionComplete)).To(BeTrue())
		Expect(meta.IsStatusConditionFalse(got.Status.Conditions, castv1alpha1.ConditionRunning)).To(BeTrue())
	})

	It("tracks the generation when timeout changes, keeping the phase", func() {
		cast := &castv1alpha1.Cast{
			ObjectMeta: metav1.ObjectMeta{Name: "retimed", Namespace: "default"},
			Spec: castv1alpha1.CastSpec{
				Repository: "spell-platform/spells", Workflow: "cast.yml", RunID: ptr.To[int64](42),
			},
		}
		Expect(k8s.Create(ctx, cast)).To(Succeed())
		Eventually(get(cast)).Should(HaveField("Status.Message", "attaching to run 42"))

		got := get(cast)(Default)
		got.Spec.Timeout = &metav1.Duration{Duration: 3600e9}
		Expect(k8s.Update(ctx, got)).To(Succeed())
		Eventually(get(cast)).Should(And(
			HaveField("Status.ObservedGeneration", got.Generation),
			HaveField("Status.Phase", castv1alpha1.PhasePending),
		))
	})
})
