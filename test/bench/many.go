package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// manyConfig sizes scenario 10, many Casts at rest.
type manyConfig struct {
	sizes      []int // total Casts, ascending; each size tops up the last
	namespaces int
	finishedPc float64       // percent of the Casts that are Succeeded and Complete
	width      int           // creates in flight
	rest       time.Duration // how long a process holds its Casts before its memory counts
	sizesFlag  string
	heapDir    string // where to save the controller's heap profiles; empty: none
}

func (m *manyConfig) bind(fs *flag.FlagSet) {
	fs.StringVar(&m.sizesFlag, "many-casts", "10000,100000", "comma-separated Cast counts at rest, ascending (scenario 10)")
	fs.IntVar(&m.namespaces, "many-namespaces", 100, "namespaces the many Casts spread over (scenario 10)")
	fs.Float64Var(&m.finishedPc, "many-finished-percent", 10, "percent of the many Casts that are finished (Succeeded, Complete), the rest Queued (scenario 10)")
	fs.IntVar(&m.width, "many-create-width", 48, "Cast creates in flight (scenario 10)")
	// Memory is what a process holds at rest: the Go runtime returns what
	// the initial list and a restart's burst of reconciles took only over
	// tens of seconds. The reading after -settle is reported beside it,
	// and the peak (VmHWM) too.
	fs.DurationVar(&m.rest, "many-rest", time.Minute, "time a fresh streamer or restarted controller holds the Casts before its memory at rest is read (scenario 10)")
	fs.StringVar(&m.heapDir, "many-heap-profiles", "", "save the controller's heap profile (go tool pprof) at its empty baseline and after each restart into this folder (scenario 10)")
}

func (m *manyConfig) smoke() map[string]func() {
	return map[string]func(){"many-casts": func() { m.sizesFlag = "200,500" }, "many-namespaces": func() { m.namespaces = 10 },
		"many-rest": func() { m.rest = 4 * time.Second }}
}

func (m *manyConfig) validate() error {
	m.sizes = nil
	last := 0
	for _, s := range strings.Split(m.sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= last {
			return fmt.Errorf("-many-casts: %q is not a positive, ascending count", s)
		}
		m.sizes, last = append(m.sizes, n), n
	}
	if m.namespaces <= 0 || m.width <= 0 || m.finishedPc < 0 || m.finishedPc > 100 {
		return errors.New("-many-namespaces and -many-create-width must be positive, -many-finished-percent in 0..100")
	}
	return nil
}

const (
	manyToken = "bench-token-many"
	manyRunID = 20_000_000
)

func manyNS(i int) string { return fmt.Sprintf("bench-many-%d", i) }

// manyRepo: one repository per namespace, so a restart's resyncs share a
// listing per repository as they would in a real installation.
func manyRepo(ns int) string { return fmt.Sprintf("many-org/repo-%d", ns) }

// manyEnv is what the sizes share: the GitHub fake that knows every run,
// the token file, and the empty baselines.
type manyEnv struct {
	fake       *ghapitest.Server
	tokenFile  string
	created    time.Time // the runs' created/updated time
	have       int       // Casts created so far
	streamBase uint64    // RSS of a fresh streamer before any many-Cast exists
	ctrlBase   uint64    // same for the controller
	baseCasts  int       // Casts in the cluster at the baselines (other scenarios')
}

// manyScenario measures the streamer and the controller at rest with each
// -many-casts size. It runs last: its Casts stay (Queued ones carry the
// controller's finalizer) until the control plane is torn down.
func (b *bench) manyScenario(ctx context.Context) error {
	m := b.cfg.many
	for i := range b.cfg.namespaces {
		// The delivery scenarios' Casts name runs the fake does not know.
		if err := b.cl.k8s.DeleteAllOf(ctx, &castv1alpha1.Cast{}, client.InNamespace(streamNS(i))); err != nil {
			return fmt.Errorf("deleting the delivery scenarios' casts: %w", err)
		}
	}
	for i := range m.namespaces {
		if err := ignoreExists(b.cl.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: manyNS(i)}})); err != nil {
			return fmt.Errorf("creating namespace %s: %w", manyNS(i), err)
		}
	}
	e := &manyEnv{fake: ghapitest.NewServer(), tokenFile: filepath.Join(b.tmp, "github-token-many"),
		created: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}
	defer e.fake.Close()
	if err := os.WriteFile(e.tokenFile, []byte(manyToken), 0o600); err != nil {
		return err
	}
	tokens, err := b.cl.identities(ctx, "many-viewer", 1, 1)
	if err != nil {
		return err
	}
	var all castv1alpha1.CastList
	if err := b.cl.k8s.List(ctx, &all); err != nil {
		return fmt.Errorf("listing casts: %w", err)
	}
	e.baseCasts = len(all.Items)
	b.progress("many: empty baselines (%d other Casts in the cluster)", e.baseCasts)
	if e.streamBase, err = b.manyStreamerRSS(); err != nil {
		return fmt.Errorf("streamer baseline: %w", err)
	}
	if e.ctrlBase, err = b.manyControllerBaseline(e); err != nil {
		return fmt.Errorf("controller baseline: %w", err)
	}
	b.res.many.streamBase, b.res.many.ctrlBase, b.res.many.baseCasts = e.streamBase, e.ctrlBase, e.baseCasts
	for _, n := range m.sizes {
		b.progress("many: %d Casts in %d namespaces", n, m.namespaces)
		s, err := b.manySize(ctx, e, n, tokens[0])
		if err != nil {
			return fmt.Errorf("%d casts: %w", n, err)
		}
		b.res.many.sizes, b.res.many.settle = append(b.res.many.sizes, s), b.cfg.settle
		b.res.add(b.manyRow(e, s))
	}
	b.res.many.ran = true
	return nil
}

// finished says which of the many Casts are Succeeded and Complete: an
// even spread of finishedPc percent (Cast i is finished when the running
// count of finished ones steps up at i).
func (m manyConfig) finished(i int) bool {
	step := func(k int) int { return int(float64(k) * m.finishedPc / 100) }
	return step(i+1) > step(i)
}

// createMany tops the many Casts up to n: each is created (Queued ones
// with the controller's finalizer, as a controller that attached them
// leaves them) and its status written as the controller would have written
// it from the fake's run, so a restart finds nothing to change.
func (b *bench) createMany(ctx context.Context, e *manyEnv, n int) (time.Duration, error) {
	m := b.cfg.many
	for i := e.have; i < n; i++ {
		id, ns := int64(manyRunID+i), i%m.namespaces
		run := ghapitest.Run{ID: id, Repository: manyRepo(ns), Workflow: "cast.yml", CreatedAt: e.created, UpdatedAt: e.created}
		if m.finished(i) {
			run.Status, run.Conclusion, run.RunStartedAt = "completed", "success", e.created
			run.Jobs = []ghapitest.Job{benchJob(id, "completed", e.created)}
		}
		e.fake.AddRun(run)
	}
	start := time.Now()
	err := parallel(ctx, n-e.have, m.width, func(k int) error {
		i := e.have + k
		c := manyCast(m, e.created, i)
		st := c.Status
		if err := ignoreExists(b.cl.k8s.Create(ctx, c)); err != nil {
			return err
		}
		c.Status = st
		return b.cl.k8s.Status().Update(ctx, c)
	})
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("creating casts: %w", err)
	}
	e.have = n
	return took, nil
}

func manyCast(m manyConfig, at time.Time, i int) *castv1alpha1.Cast {
	id, ns := int64(manyRunID+i), i%m.namespaces
	repo := manyRepo(ns)
	t := metav1.NewTime(at)
	c := &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Namespace: manyNS(ns), Name: fmt.Sprintf("many-%d", i), Labels: map[string]string{"bench": "many"}},
		Spec:       castv1alpha1.CastSpec{Repository: repo, Workflow: "cast.yml", RunID: ptrTo(id)},
	}
	st := &c.Status
	st.ObservedGeneration, st.RunID, st.RunAttempt, st.RunURL, st.LastEventAt = 1, id, 1, ghapitest.HTMLURL(repo, id), &t
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: castv1alpha1.ConditionDispatched, Status: metav1.ConditionTrue,
		Reason: castv1alpha1.ReasonAttached, Message: fmt.Sprintf("attached to run %d; nothing was dispatched", id),
		ObservedGeneration: 1, LastTransitionTime: t})
	if !m.finished(i) {
		st.Phase, st.Message = runstatus.PhaseOf("queued", "")
		runstatus.SetProgress(st, st.Phase, at)
		c.Finalizers = []string{controllers.Finalizer}
		return c
	}
	st.Phase, st.Message = runstatus.PhaseOf("completed", "success")
	st.Conclusion, st.Progress, st.StartedAt, st.FinishedAt = "success", 100, &t, &t
	st.Artifacts = []castv1alpha1.Artifact{{Name: "spell-output", SizeBytes: 4096}}
	runstatus.SetProgress(st, st.Phase, at)
	runstatus.Conclude(st, st.Message, 1, at)
	return c
}
