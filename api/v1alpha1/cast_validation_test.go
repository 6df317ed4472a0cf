package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

func newCast(name string) *castv1alpha1.Cast {
	return &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: castv1alpha1.CastSpec{
			Repository: "spell-platform/spells",
			Workflow:   "cast.yml",
			Inputs:     map[string]string{"spell": "hello"},
		},
	}
}

// expectInvalid asserts the API server rejected err as Invalid and that its
// message names what is wrong, as a kubectl user would read it.
func expectInvalid(err error, fragments ...string) {
	GinkgoHelper()
	Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
	for _, f := range fragments {
		Expect(err.Error()).To(ContainSubstring(f))
	}
}

var _ = Describe("Cast API", func() {
	var ctx context.Context
	BeforeEach(func() { ctx = context.Background() })

	It("accepts a valid Cast, defaults ref to main and reads it back", func() {
		cast := newCast("valid")
		cast.Spec.Timeout = &metav1.Duration{Duration: 30 * time.Minute}
		Expect(k8s.Create(ctx, cast)).To(Succeed())

		got := &castv1alpha1.Cast{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cast), got)).To(Succeed())
		Expect(got.Spec.Ref).To(Equal("main"))
		Expect(got.Spec.Repository).To(Equal("spell-platform/spells"))
		Expect(got.Spec.Inputs).To(Equal(map[string]string{"spell": "hello"}))
		Expect(got.Spec.Timeout.Duration).To(Equal(30 * time.Minute))
	})

	It("accepts a numeric workflow ID and an attached run ID", func() {
		cast := newCast("attached")
		cast.Spec.Workflow = "161335"
		cast.Spec.RunID = ptr.To[int64](30433642)
		Expect(k8s.Create(ctx, cast)).To(Succeed())
	})

	DescribeTable("rejects an invalid spec with a message naming the field",
		func(mutate func(*castv1alpha1.Cast), fragments ...string) {
			cast := newCast("invalid")
			mutate(cast)
			expectInvalid(k8s.Create(ctx, cast), fragments...)
		},
		Entry("repository without owner", func(c *castv1alpha1.Cast) { c.Spec.Repository = "spells" },
			"spec.repository", "should match"),
		Entry("repository with a space", func(c *castv1alpha1.Cast) { c.Spec.Repository = "spell platform/spells" },
			"spec.repository", "should match"),
		Entry("repository as a URL", func(c *castv1alpha1.Cast) { c.Spec.Repository = "https://github.com/a/b" },
			"spec.repository"),
		Entry("empty workflow", func(c *castv1alpha1.Cast) { c.Spec.Workflow = "" },
			"spec.workflow"),
		Entry("workflow that is neither a file name nor an ID", func(c *castv1alpha1.Cast) { c.Spec.Workflow = "../cast.yml" },
			"spec.workflow", "should match"),
		Entry("more than 25 inputs", func(c *castv1alpha1.Cast) {
			c.Spec.Inputs = map[string]string{}
			for i := range 26 {
				c.Spec.Inputs[fmt.Sprintf("input%d", i)] = "x"
			}
		}, "spec.inputs", "must have at most 24 items"),
		Entry("25 inputs, since cast_id takes GitHub's 25th", func(c *castv1alpha1.Cast) {
			c.Spec.Inputs = map[string]string{}
			for i := range 25 {
				c.Spec.Inputs[fmt.Sprintf("input%d", i)] = "x"
			}
		}, "spec.inputs", "must have at most 24 items"),
		Entry("the reserved cast_id input", func(c *castv1alpha1.Cast) { c.Spec.Inputs["cast_id"] = "mine" },
			"spec.inputs.cast_id is reserved"),
		Entry("zero run ID", func(c *castv1alpha1.Cast) { c.Spec.RunID = ptr.To[int64](0) },
			"spec.runID", "greater than or equal to 1"),
		Entry("credentials secret without a name", func(c *castv1alpha1.Cast) {
			c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{}
		}, "spec.credentialsSecretRef.name"),
	)

	It("accepts 24 inputs", func() {
		cast := newCast("max-inputs")
		cast.Spec.Inputs = map[string]string{}
		for i := range 24 {
			cast.Spec.Inputs[fmt.Sprintf("input%d", i)] = "x"
		}
		Expect(k8s.Create(ctx, cast)).To(Succeed())
	})

	Context("after creation", func() {
		var cast *castv1alpha1.Cast
		BeforeEach(func() {
			cast = newCast("immutable-" + fmt.Sprint(GinkgoParallelProcess(), "-", time.Now().UnixNano()))
			Expect(k8s.Create(ctx, cast)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, cast))).To(Succeed()) })
		})

		DescribeTable("refuses a spec change, saying why",
			func(field string, mutate func(*castv1alpha1.Cast)) {
				changed := cast.DeepCopy()
				mutate(changed)
				expectInvalid(k8s.Update(ctx, changed), "spec."+field+" is immutable", "create a new Cast instead")
			},
			Entry("repository", "repository", func(c *castv1alpha1.Cast) { c.Spec.Repository = "other/repo" }),
			Entry("workflow", "workflow", func(c *castv1alpha1.Cast) { c.Spec.Workflow = "other.yml" }),
			Entry("ref", "ref", func(c *castv1alpha1.Cast) { c.Spec.Ref = "develop" }),
			Entry("an input's value", "inputs", func(c *castv1alpha1.Cast) { c.Spec.Inputs["spell"] = "other" }),
			Entry("inputs removed", "inputs", func(c *castv1alpha1.Cast) { c.Spec.Inputs = nil }),
			Entry("runID added", "runID", func(c *castv1alpha1.Cast) { c.Spec.RunID = ptr.To[int64](7) }),
			Entry("credentials added", "credentialsSecretRef", func(c *castv1alpha1.Cast) {
				c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: "gh"}
			}),
		)

		It("lets timeout change", func() {
			changed := cast.DeepCopy()
			changed.Spec.Timeout = &metav1.Duration{Duration: time.Hour}
			Expect(k8s.Update(ctx, changed)).To(Succeed())
			Expect(changed.Generation).To(BeNumerically(">", cast.Generation))
		})

		It("writes status only through the status subresource", func() {
			viaMain := cast.DeepCopy()
			viaMain.Status.Phase = castv1alpha1.PhaseSucceeded
			viaMain.Status.Progress = 100
			Expect(k8s.Update(ctx, viaMain)).To(Succeed())
			Expect(viaMain.Status.Phase).To(BeEmpty(), "the main resource must drop status writes")

			viaStatus := viaMain.DeepCopy()
			viaStatus.Status.Phase = castv1alpha1.PhaseRunning
			viaStatus.Status.Progress = 40
			viaStatus.Status.RunID = 30433642
			Expect(k8s.Status().Update(ctx, viaStatus)).To(Succeed())

			got := &castv1alpha1.Cast{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cast), got)).To(Succeed())
			Expect(got.Status.Phase).To(Equal(castv1alpha1.PhaseRunning))
			Expect(got.Status.Progress).To(BeEquivalentTo(40))
			Expect(got.Status.RunID).To(BeEquivalentTo(30433642))
			Expect(got.Generation).To(Equal(cast.Generation), "a status write is not a spec change")
		})

		It("refuses a status outside the API's enums and ranges", func() {
			bad := cast.DeepCopy()
			bad.Status.Phase = "Exploded"
			expectInvalid(k8s.Status().Update(ctx, bad), "status.phase", "Unsupported value")
			bad = cast.DeepCopy()
			bad.Status.Progress = 101
			expectInvalid(k8s.Status().Update(ctx, bad), "status.progress", "less than or equal to 100")
		})
	})

	It("serves the printer columns kubectl shows", func() {
		// Ask the API server for a Table, as `kubectl get casts` does.
		hc, err := rest.HTTPClientFor(cfg)
		Expect(err).NotTo(HaveOccurred())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/apis/spell.dev/v1alpha1/namespaces/default/casts", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
		resp, err := hc.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK), "GET %s", req.URL)
		var table metav1.Table
		Expect(json.NewDecoder(resp.Body).Decode(&table)).To(Succeed())
		var names []string
		for _, c := range table.ColumnDefinitions {
			if c.Priority == 0 {
				names = append(names, c.Name)
			}
		}
		Expect(names).To(Equal([]string{"Name", "Phase", "Progress", "Repository", "Workflow", "Run", "Age"}))
	})

	It("is discoverable by short name and categories", func() {
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		list, err := dc.ServerResourcesForGroupVersion("spell.dev/v1alpha1")
		Expect(err).NotTo(HaveOccurred())
		var casts *metav1.APIResource
		for i := range list.APIResources {
			if list.APIResources[i].Name == "casts" {
				casts = &list.APIResources[i]
			}
		}
		Expect(casts).NotTo(BeNil())
		Expect(casts.Namespaced).To(BeTrue())
		Expect(casts.ShortNames).To(ConsistOf("cst"))
		Expect(casts.Categories).To(ConsistOf("spell", "all"))
	})
})
