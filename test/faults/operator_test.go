package faults

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

const (
	webhookSecret = "faults-webhook-secret"
	// resync is the controller's --resync-interval in these specs; the
	// production default is a minute.
	resync = 2 * time.Second
)

// operator is one controller deployment: a GitHub fake of its own (so
// request counts belong to one spec), a token file, a webhook address that
// stays the same across restarts, and the current process.
type operator struct {
	gh *ghapitest.Server
	// apiURL, when set, is where the controller reaches GitHub instead of
	// the fake itself (a proxy in front of it).
	apiURL      string
	tokenFile   string
	webhookAddr string
	proc        *Proc
}

func newOperator() *operator {
	GinkgoHelper()
	o := &operator{gh: ghapitest.NewServer(), webhookAddr: freeAddr()}
	DeferCleanup(o.gh.Close)
	o.tokenFile = filepath.Join(GinkgoT().TempDir(), "github-token")
	Expect(os.WriteFile(o.tokenFile, []byte("ghp_faults_token"), 0o600)).To(Succeed())
	return o
}

// start runs a fresh controller process (until the spec ends).
func (o *operator) start() {
	GinkgoHelper()
	p, err := StartController(ControllerConfig{Binary: binary, Kubeconfig: kubeconfig, LogPath: logPath("controller"),
		WebhookAddr: o.webhookAddr, WebhookSecret: webhookSecret,
		GitHubURL: cmp.Or(o.apiURL, o.gh.URL), TokenFile: o.tokenFile, Resync: resync})
	Expect(err).NotTo(HaveOccurred())
	stopOnCleanup(p)
	o.proc = p
}

func (o *operator) webhookURL() string { return "http://" + o.webhookAddr + "/webhooks/github" }

// runRequests counts the requests the fake received about one run since
// a point in time (by request order: index into Requests()).
func (o *operator) runRequests(runID int64, from int) int {
	n := 0
	for _, r := range o.gh.Requests()[from:] {
		if touchesRun(r.Path, runID) {
			n++
		}
	}
	return n
}

// touchesRun: .../actions/runs/ID, .../runs/ID/jobs, ... but not runs/ID0.
func touchesRun(path string, runID int64) bool {
	_, rest, ok := strings.Cut(path, fmt.Sprintf("/actions/runs/%d", runID))
	return ok && (rest == "" || rest[0] == '/')
}

// addRuns stores n runs with IDs base+i in the fake, each with one job.
func (o *operator) addRuns(base int64, n int, status string, conclusion func(i int) string) []int64 {
	started := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = base + int64(i)
		job := ghapitest.Job{ID: ids[i]*10 + 1, Name: "cast", Status: status, Labels: []string{"ubuntu-latest"}, StartedAt: started,
			Steps: []ghapitest.Step{{Number: 1, Name: "Set up", Status: "completed", Conclusion: "success"}, {Number: 2, Name: "Brew", Status: "in_progress"}}}
		run := ghapitest.Run{ID: ids[i], Repository: repository, Status: status, RunStartedAt: started, Jobs: []ghapitest.Job{job}}
		if status == "completed" {
			finishRun(&run, conclusion(i))
		}
		o.gh.AddRun(run)
	}
	return ids
}

// finishRun completes a run (and its job) the way GitHub reports it.
func finishRun(r *ghapitest.Run, conclusion string) {
	r.Status, r.Conclusion, r.UpdatedAt = "completed", conclusion, time.Now().UTC().Truncate(time.Second).Add(time.Second)
	for i := range r.Jobs {
		j := &r.Jobs[i]
		j.Status, j.Conclusion, j.CompletedAt = "completed", conclusion, j.StartedAt.Add(5*time.Minute)
		for k := range j.Steps {
			j.Steps[k].Status, j.Steps[k].Conclusion = "completed", "success"
		}
	}
}

var conclusions = []string{"success", "failure", "cancelled"}

func conclusionOf(i int) string { return conclusions[i%len(conclusions)] }

// phaseFor is the phase a Cast must end in for a run's conclusion.
func phaseFor(conclusion string) castv1alpha1.CastPhase {
	return map[string]castv1alpha1.CastPhase{"success": castv1alpha1.PhaseSucceeded,
		"failure": castv1alpha1.PhaseFailed, "cancelled": castv1alpha1.PhaseCancelled}[conclusion]
}

// createAttached creates one Cast per run, attached to it.
func createAttached(ctx context.Context, ns string, ids []int64) []client.ObjectKey {
	GinkgoHelper()
	keys := make([]client.ObjectKey, len(ids))
	Expect(Group(len(ids), 8, func(i int) error {
		c := kubetest.NewCast(ns, fmt.Sprintf("run-%d", ids[i]), ids[i])
		keys[i] = client.ObjectKeyFromObject(c)
		return k8s.Create(ctx, c)
	})).To(Succeed())
	return keys
}

// phases reads the phase of every Cast in keys.
func phases(ctx context.Context, keys []client.ObjectKey) []castv1alpha1.CastPhase {
	GinkgoHelper()
	out := make([]castv1alpha1.CastPhase, len(keys))
	Expect(Group(len(keys), 8, func(i int) error {
		c := &castv1alpha1.Cast{}
		if err := k8s.Get(ctx, keys[i], c); err != nil {
			return err
		}
		out[i] = c.Status.Phase
		return nil
	})).To(Succeed())
	return out
}

// allFinished: every Cast is in want(i) concluded, Complete=True or Failed=True (artifacts and
// cost collected).
func allFinished(ctx context.Context, keys []client.ObjectKey, want func(i int) castv1alpha1.CastPhase) func(Gomega) {
	return func(g Gomega) {
		var wrong []string
		for i, k := range keys {
			c := &castv1alpha1.Cast{}
			g.Expect(k8s.Get(ctx, k, c)).To(Succeed())
			if c.Status.Phase != want(i) || !c.Status.Concluded() {
				wrong = append(wrong, fmt.Sprintf("%s: %s (%s), want %s", k.Name, c.Status.Phase, c.Status.Message, want(i)))
			}
		}
		g.Expect(wrong).To(BeEmpty(), "%d of %d Casts not finished right", len(wrong), len(keys))
	}
}

func count(ps []castv1alpha1.CastPhase, match func(castv1alpha1.CastPhase) bool) int {
	n := 0
	for _, p := range ps {
		if match(p) {
			n++
		}
	}
	return n
}
