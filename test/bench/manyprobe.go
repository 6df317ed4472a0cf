package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// manySizeResult is one -many-casts size.
type manySizeResult struct {
	n, total             int // many Casts; every Cast in the cluster
	finished             int
	added                int
	createTook           time.Duration
	streamReady          time.Duration // fresh streamer start to /readyz
	streamRSS            uint64        // at rest (-many-rest after ready)
	streamEarly          uint64        // -settle after ready
	ttfb, synced         time.Duration // all-namespaces stream, best of two
	streamBytes          int64
	streamEvents         int
	listTook             time.Duration // GET /api/v1/casts, best of two
	listBytes            int64
	listItems            int
	apiList              time.Duration // client-go list of every Cast, best of two: the anchor
	apiItems             int
	kubectl              time.Duration // kubectl get casts -A -o name
	kubectlItems         int
	kubectlNote          string
	ctrlRSS              uint64        // at rest (-many-rest after the last reconcile)
	ctrlEarly, ctrlPeak  uint64        // -settle after it; VmHWM
	ctrlAll              time.Duration // controller start to reconcile_total ≥ total
	ctrlReached          bool
	reconciles           float64
	counted, notModified int
	finishedCalls        int     // counted calls naming a finished Cast's run
	written              int     // Casts the restart wrote (resourceVersion changed)
	streamHeap, ctrlHeap float64 // Go heap in use when RSS was read, from /metrics; -1 unknown
	byEndpoint           string
	ok                   bool // every measurement above was taken

	// The same restart once more with GOGC=100, Go's default, which the
	// controller lowers to 50: what that setting trades, in the same run.
	goDefaultAll     time.Duration
	goDefaultReached bool
	goDefaultRSS     uint64
}

// manySize tops the Casts up to n and measures everything at that size.
func (b *bench) manySize(ctx context.Context, e *manyEnv, n int, token string) (manySizeResult, error) {
	m := b.cfg.many
	s := manySizeResult{n: n, added: n - e.have}
	var err error
	if s.createTook, err = b.createMany(ctx, e, n); err != nil {
		return s, err
	}
	for i := range n {
		if m.finished(i) {
			s.finished++
		}
	}
	s.total = e.baseCasts + n
	b.progress("many: created %d Casts in %s; kube-apiserver list", s.added, s.createTook.Round(time.Millisecond))
	s.apiList, s.apiItems = -1, -1
	var rvs map[string]string
	for range 2 {
		t0 := time.Now()
		var list castv1alpha1.CastList
		if err := b.cl.k8s.List(ctx, &list); err != nil {
			return s, fmt.Errorf("listing casts: %w", err)
		}
		if d := time.Since(t0); s.apiList < 0 || d < s.apiList {
			s.apiList = d
		}
		s.apiItems, rvs = len(list.Items), resourceVersions(list.Items)
	}
	s.kubectl, s.kubectlItems, s.kubectlNote = b.kubectlList(ctx)

	b.progress("many: fresh streamer")
	t0 := time.Now()
	if err := b.restartStreamer(); err != nil {
		return s, err
	}
	s.streamReady = time.Since(t0)
	time.Sleep(b.cfg.settle)
	st, err := readProc(b.streamer.pid())
	if err != nil {
		return s, fmt.Errorf("reading the streamer's RSS: %w", err)
	}
	s.streamEarly = st.RSS
	time.Sleep(max(b.cfg.many.rest-b.cfg.settle, 0))
	if st, err = readProc(b.streamer.pid()); err != nil {
		return s, fmt.Errorf("reading the streamer's RSS: %w", err)
	}
	s.streamRSS = st.RSS
	s.streamHeap = heapInuse(b.metricsURL())
	base := "http://" + b.streamAddr
	s.synced = -1
	for range 2 {
		p, err := streamProbe(ctx, base+"/api/v1/casts/events", token)
		if err != nil {
			return s, fmt.Errorf("all-namespaces stream: %w", err)
		}
		if s.synced < 0 || p.synced < s.synced {
			s.ttfb, s.synced, s.streamBytes, s.streamEvents = p.ttfb, p.synced, p.bytes, p.events
		}
	}
	s.listTook = -1
	for range 2 {
		d, body, err := getBody(ctx, base+"/api/v1/casts", token)
		if err != nil {
			return s, fmt.Errorf("JSON list: %w", err)
		}
		if s.listTook < 0 || d < s.listTook {
			s.listTook = d
		}
		s.listBytes, s.listItems = int64(len(body)), bytes.Count(body, []byte(`"castId":`))
	}
	b.streamer.stop()
	b.streamer = nil

	b.progress("many: controller restart")
	if err := b.manyRestart(ctx, e, &s); err != nil {
		return s, err
	}
	var list castv1alpha1.CastList
	if err := b.cl.k8s.List(ctx, &list); err != nil {
		return s, fmt.Errorf("listing casts: %w", err)
	}
	for k, rv := range resourceVersions(list.Items) {
		if rvs[k] != rv {
			s.written++
		}
	}
	b.progress("many: controller restart with GOGC=100")
	if err := b.manyRestartGoDefaultGC(ctx, e, &s); err != nil {
		return s, err
	}
	s.ok = s.streamRSS > 0 && s.ctrlRSS > 0 && s.ctrlReached && s.synced > 0 && s.apiList > 0 &&
		s.streamEvents == s.total && s.listItems == s.total && s.apiItems == s.total
	return s, nil
}

func resourceVersions(items []castv1alpha1.Cast) map[string]string {
	out := make(map[string]string, len(items))
	for i := range items {
		out[items[i].Namespace+"/"+items[i].Name] = items[i].ResourceVersion
	}
	return out
}

// manyStreamerRSS is a fresh streamer's RSS after sync and the settle time.
func (b *bench) manyStreamerRSS() (uint64, error) {
	if err := b.restartStreamer(); err != nil {
		return 0, err
	}
	defer func() { b.streamer.stop(); b.streamer = nil }()
	time.Sleep(max(b.cfg.many.rest, b.cfg.settle))
	st, err := readProc(b.streamer.pid())
	b.res.many.streamBaseHeap = heapInuse(b.metricsURL())
	return st.RSS, err
}

// startManyController runs the controller against the fake with the
// many token, resync 1 h, its metrics on a port of its own; with
// -many-heap-profiles, its pprof endpoints on another (pprofURL).
func (b *bench) startManyController(e *manyEnv, log string, env ...string) (ctrl *child, url, pprofURL string, err error) {
	metricsAddr, err := freePort()
	if err != nil {
		return nil, "", "", err
	}
	args := []string{"--resync-interval", "1h", "--github-api-url", e.fake.URL,
		"--github-token-file", e.tokenFile, "--metrics-bind-address", metricsAddr}
	if b.cfg.many.heapDir != "" {
		pprofAddr, err := freePort()
		if err != nil {
			return nil, "", "", err
		}
		args = append(args, "--pprof-bind-address", pprofAddr)
		// gc=1: the profile shows what a collection leaves, not what the
		// last one happened to see mid-restart.
		pprofURL = "http://" + pprofAddr + "/debug/pprof/heap?gc=1"
	}
	ctrl, _, err = b.startControllerEnv(log, env, args...)
	return ctrl, "http://" + metricsAddr + "/metrics", pprofURL, err
}

func (b *bench) manyControllerBaseline(e *manyEnv) (uint64, error) {
	ctrl, url, pprofURL, err := b.startManyController(e, "controller-many-base.log")
	if err != nil {
		return 0, err
	}
	defer ctrl.stop()
	if _, err := waitReconciles(url, e.baseCasts, time.Minute); err != nil {
		return 0, err
	}
	time.Sleep(max(b.cfg.many.rest, b.cfg.settle))
	st, err := readProc(ctrl.pid())
	b.res.many.ctrlBaseHeap = heapInuse(url)
	b.saveHeapProfile(pprofURL, "controller-heap-base.pb.gz")
	b.saveMemStats(context.Background(), url, "controller-memstats-base.txt")
	return st.RSS, err
}

// manyRestart starts a fresh controller, as after a rollout or a crash,
// and times it from start until it has reconciled as many times as there
// are Casts; then reads its RSS and what it cost the fake.
func (b *bench) manyRestart(ctx context.Context, e *manyEnv, s *manySizeResult) error {
	before := e.fake.StatsFor(manyToken)
	mark := len(e.fake.Requests())
	t0 := time.Now()
	ctrl, url, pprofURL, err := b.startManyController(e, fmt.Sprintf("controller-many-%d.log", s.n))
	if err != nil {
		return err
	}
	defer ctrl.stop()
	s.reconciles, err = waitReconciles(url, s.total, 10*time.Minute)
	s.ctrlAll, s.ctrlReached = time.Since(t0), err == nil
	if ctx.Err() != nil {
		return ctx.Err()
	}
	time.Sleep(b.cfg.settle)
	st, err := readProc(ctrl.pid())
	if err != nil {
		return fmt.Errorf("reading the controller's RSS: %w", err)
	}
	s.ctrlEarly = st.RSS
	time.Sleep(max(b.cfg.many.rest-b.cfg.settle, 0))
	if st, err = readProc(ctrl.pid()); err != nil {
		return fmt.Errorf("reading the controller's RSS: %w", err)
	}
	s.ctrlRSS, s.ctrlPeak = st.RSS, st.HWM
	s.ctrlHeap = heapInuse(url)
	b.saveHeapProfile(pprofURL, fmt.Sprintf("controller-heap-%d.pb.gz", s.n))
	b.saveMemStats(ctx, url, fmt.Sprintf("controller-memstats-%d.txt", s.n))
	after := e.fake.StatsFor(manyToken)
	s.counted, s.notModified = after.Counted-before.Counted, after.NotModified-before.NotModified
	for _, r := range e.fake.Requests()[mark:] {
		if r.Identity != manyToken || r.Status == http.StatusNotModified {
			continue
		}
		if i, ok := runIndexOf(r.Path); ok && b.cfg.many.finished(i) {
			s.finishedCalls++
		}
	}
	s.byEndpoint = callsSince(e.fake, manyToken, mark)
	return nil
}

// manyRestartGoDefaultGC restarts the controller again with GOGC=100 and
// times it and reads its RSS as manyRestart does.
func (b *bench) manyRestartGoDefaultGC(ctx context.Context, e *manyEnv, s *manySizeResult) error {
	t0 := time.Now()
	ctrl, url, _, err := b.startManyController(e, fmt.Sprintf("controller-many-%d-gogc100.log", s.n), "GOGC=100")
	if err != nil {
		return err
	}
	defer ctrl.stop()
	_, err = waitReconciles(url, s.total, 10*time.Minute)
	s.goDefaultAll, s.goDefaultReached = time.Since(t0), err == nil
	if ctx.Err() != nil {
		return ctx.Err()
	}
	time.Sleep(b.cfg.many.rest)
	st, err := readProc(ctrl.pid())
	if err != nil {
		return fmt.Errorf("reading the controller's RSS: %w", err)
	}
	s.goDefaultRSS = st.RSS
	return nil
}

// runIndexOf maps /repos/o/r/actions/runs/<id>[/...] to a many-Cast index.
func runIndexOf(path string) (int, bool) {
	_, rest, ok := strings.Cut(path, "/actions/runs/")
	if !ok {
		return 0, false
	}
	id, _, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < manyRunID {
		return 0, false
	}
	return int(n - manyRunID), true
}

// waitReconciles polls the controller's /metrics until the cast
// controller's reconcile_total (every result) reaches want.
func waitReconciles(url string, want int, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	var got float64
	for {
		if m, err := scrape(url); err == nil {
			got = 0
			for series, v := range m {
				if strings.HasPrefix(series, "controller_runtime_reconcile_total{") && strings.Contains(series, `controller="cast"`) {
					got += v
				}
			}
			if got >= float64(want) {
				return got, nil
			}
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("%.0f of %d reconciles after %s: %w", got, want, timeout, errDeadline)
		}
		// A scrape is not free for the controller (it counts Casts by
		// phase), so poll at a pace that costs it little.
		time.Sleep(250 * time.Millisecond)
	}
}

// kubectlList times the real `kubectl get casts -A -o name` with the
// envtest kubeconfig, when kubectl is on PATH.
func (b *bench) kubectlList(ctx context.Context) (time.Duration, int, string) {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return -1, 0, "kubectl not on PATH"
	}
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, path, "--kubeconfig", b.cl.kubeconfig, "get", "casts", "-A", "-o", "name").Output()
	d := time.Since(t0)
	if err != nil {
		return -1, 0, "kubectl failed: " + shortErr(err)
	}
	return d, bytes.Count(out, []byte("\n")), ""
}

// probe is one all-namespaces stream read up to its synced event.
type probe struct {
	ttfb, synced time.Duration
	bytes        int64
	events       int
}

// firstByte counts what is read and notes when the first byte came.
type firstByte struct {
	r     io.Reader
	t0    time.Time
	first time.Duration
	n     int64
}

func (f *firstByte) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && f.n == 0 {
		f.first = time.Since(f.t0)
	}
	f.n += int64(n)
	return n, err
}

// streamProbe opens an SSE stream and reads it until "synced": time to
// the first body byte, to synced, the bytes up to it and the changes sent.
func streamProbe(ctx context.Context, url, token string) (probe, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	resp, err := getStream(ctx, http.DefaultClient, url, token)
	if err != nil {
		return probe{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return probe{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	fb := &firstByte{r: resp.Body, t0: t0}
	er := newEventReader(fb)
	var p probe
	for {
		kind, _, _, err := er.next()
		if err != nil {
			return p, fmt.Errorf("reading the stream: %w", err)
		}
		switch kind {
		case eventChange:
			p.events++
		case eventSynced:
			p.synced, p.ttfb, p.bytes = time.Since(t0), fb.first, fb.n
			return p, nil
		}
	}
}

// getBody GETs url with the token and returns the time to the whole body.
func getBody(ctx context.Context, url, token string) (time.Duration, []byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	d := time.Since(t0)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return d, body, err
}
