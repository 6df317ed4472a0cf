package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/webhook"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

const (
	// lifecycleToken is scenario 5's --github-token-file content.
	lifecycleToken = "bench-token-lifecycles"
	benchSecret    = "bench-webhook-secret"
	benchRepo      = "bench-org/spells"
	runIDBase      = 5_000_000
)

// delivery is one signed webhook POST.
type delivery struct {
	event string
	body  []byte
}

// lifecycleOf is the five deliveries GitHub sends for a one-job run of
// the repository: requested, in_progress, the job starting and finishing,
// completed.
func lifecycleOf(repository string, run int64, i int, t0 time.Time) []delivery {
	job := run*10 + 1
	owner, name, _ := strings.Cut(repository, "/")
	repo := map[string]any{"id": 77, "full_name": repository, "name": name, "owner": map[string]any{"login": owner}}
	at := func(s int) string { return t0.Add(time.Duration(s) * time.Second).UTC().Format(time.RFC3339) }
	runEvent := func(action, status string, conclusion any, s int) delivery {
		return delivery{"workflow_run", mustJSON(map[string]any{
			"action": action,
			"workflow_run": map[string]any{
				"id": run, "run_attempt": 1, "run_number": i + 1, "name": "Cast", "event": "workflow_dispatch",
				"status": status, "conclusion": conclusion, "head_branch": "main",
				"display_title": fmt.Sprintf("cast bench-%d", i), "workflow_id": 4242,
				"html_url":   fmt.Sprintf("https://github.com/%s/actions/runs/%d", repository, run),
				"created_at": at(0), "run_started_at": at(0), "updated_at": at(s),
			},
			"repository": repo,
			"sender":     map[string]any{"login": "bench-bot", "type": "Bot"},
		})}
	}
	jobEvent := func(action, status string, conclusion any, steps []string, s int) delivery {
		st := make([]map[string]any, len(steps))
		for k, s := range steps {
			var c any
			if s == "completed" {
				c = "success"
			}
			st[k] = map[string]any{"number": k + 1, "name": fmt.Sprintf("step %d", k+1), "status": s, "conclusion": c}
		}
		var completed any
		if status == "completed" {
			completed = at(s)
		}
		return delivery{"workflow_job", mustJSON(map[string]any{
			"action": action,
			"workflow_job": map[string]any{
				"id": job, "run_id": run, "run_attempt": 1, "name": "build", "status": status, "conclusion": conclusion,
				"labels": []string{"ubuntu-latest"}, "steps": st, "started_at": at(1), "completed_at": completed,
			},
			"repository": repo,
			"sender":     map[string]any{"login": "bench-bot", "type": "Bot"},
		})}
	}
	return []delivery{
		runEvent("requested", "queued", nil, 0),
		runEvent("in_progress", "in_progress", nil, 1),
		jobEvent("in_progress", "in_progress", nil, []string{"completed", "in_progress"}, 2),
		jobEvent("completed", "completed", "success", []string{"completed", "completed"}, 3),
		runEvent("completed", "completed", "success", 4),
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// startController runs the controller binary with the bench's webhook
// secret on free ports, plus args, and returns once it is ready, with the
// webhook receiver's address.
func (b *bench) startController(logName string, args ...string) (*child, string, error) {
	return b.startControllerEnv(logName, nil, args...)
}

// startControllerEnv is startController with more environment variables.
func (b *bench) startControllerEnv(logName string, env []string, args ...string) (*child, string, error) {
	hookAddr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	probeAddr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	ctrl, err := startChild(b.bin, filepath.Join(b.tmp, logName), append([]string{"GITHUB_WEBHOOK_SECRET=" + benchSecret}, env...),
		append([]string{"controller", "--kubeconfig", b.cl.kubeconfig, "--webhook-bind-address", hookAddr,
			"--metrics-bind-address", "0", "--metrics-secure=false", "--health-probe-bind-address", probeAddr}, args...)...)
	if err != nil {
		return nil, "", err
	}
	if err := ctrl.waitHTTP("http://"+probeAddr+"/readyz", 60*time.Second); err != nil {
		ctrl.stop()
		return nil, "", err
	}
	return ctrl, hookAddr, nil
}

// controllerScenario runs scenario 5 against the controller binary: once
// with one replica, and once with two behind one webhook address, the
// deliveries spread over both (a standby stores what it receives too).
func (b *bench) controllerScenario(ctx context.Context) error {
	// The delivery scenarios' Casts name runs that exist nowhere; with a
	// token the controller would keep asking GitHub about them.
	for i := range b.cfg.namespaces {
		if err := b.cl.k8s.DeleteAllOf(ctx, &castv1alpha1.Cast{}, client.InNamespace(streamNS(i))); err != nil {
			return fmt.Errorf("deleting the delivery scenarios' casts: %w", err)
		}
	}
	for _, replicas := range []int{1, 2} {
		if err := b.controllerRun(ctx, replicas); err != nil {
			return fmt.Errorf("%d replica(s): %w", replicas, err)
		}
	}
	return nil
}

// controllerRun is one run of scenario 5 with its own namespace, runs and
// controller processes.
func (b *bench) controllerRun(ctx context.Context, replicas int) error {
	L := b.cfg.lifecycles
	ns, idBase := ctrlNS, runIDBase
	if replicas > 1 {
		ns, idBase = fmt.Sprintf("%s-%d", ctrlNS, replicas), runIDBase+replicas*100_000
		if err := ignoreExists(b.cl.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})); err != nil {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	// The GitHub fake holds the runs, so completion really lists their
	// artifacts and jobs with the operator's token, and the fake's books say
	// what a lifecycle costs.
	fake := ghapitest.NewServer()
	defer fake.Close()
	tokenFile := filepath.Join(b.tmp, "github-token")
	if err := os.WriteFile(tokenFile, []byte(lifecycleToken), 0o600); err != nil {
		return err
	}
	created := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range L {
		id := int64(idBase + i)
		fake.AddRun(ghapitest.Run{ID: id, Repository: benchRepo, CreatedAt: created,
			DisplayTitle: fmt.Sprintf("cast bench-%d", i), Jobs: []ghapitest.Job{benchJob(id, "queued", created)}})
	}
	var urls []string
	var pids []int
	for k := range replicas {
		args := []string{"--resync-interval", "1h", "--github-api-url", fake.URL, "--github-token-file", tokenFile}
		logName := "controller.log"
		if replicas > 1 {
			args = append(args, "--leader-elect", "--leader-elect-namespace", ns)
			logName = fmt.Sprintf("controller-%d-of-%d.log", k+1, replicas)
		}
		ctrl, hookAddr, err := b.startController(logName, args...)
		if err != nil {
			return err
		}
		defer ctrl.stop()
		urls = append(urls, "http://"+hookAddr+webhook.DefaultPath)
		pids = append(pids, ctrl.pid())
	}

	err := parallel(ctx, L, 16, func(i int) error {
		return ignoreExists(b.cl.k8s.Create(ctx, &castv1alpha1.Cast{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("life-%d", i)},
			Spec:       castv1alpha1.CastSpec{Repository: benchRepo, Workflow: "cast.yml", RunID: ptrTo(int64(idBase + i))},
		}))
	})
	if err != nil {
		return fmt.Errorf("creating casts: %w", err)
	}
	if _, err := b.pollCasts(ctx, ns, 120*time.Second, func(c *castv1alpha1.Cast) bool { return c.Status.RunID != 0 }); err != nil {
		return fmt.Errorf("waiting for the controller to attach the casts: %w", err)
	}

	attached := fake.StatsFor(lifecycleToken)
	t0 := time.Now().Add(-time.Hour)
	// GitHub finishes the runs before it sends their deliveries.
	done := time.Now().UTC().Truncate(time.Second)
	for i := range L {
		completeRun(fake, int64(idBase+i), done)
	}
	queue := make(chan delivery, 5*L)
	for stage := range 5 {
		for i := range L {
			queue <- lifecycleOf(benchRepo, int64(idBase+i), i, t0)[stage]
		}
	}
	close(queue)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.cfg.senders}, Timeout: 30 * time.Second}
	var lat hist
	var seq, retries, bad atomic.Int64
	w := sample(append([]int{b.cl.apiPID}, pids...)...)
	start := time.Now()
	var wg sync.WaitGroup
	for range b.cfg.senders {
		wg.Go(func() {
			for d := range queue {
				for attempt := 0; ; attempt++ {
					t := time.Now()
					n := seq.Add(1)
					code, body, err := post(hc, urls[int(n)%len(urls)], d, n)
					lat.record(time.Since(t))
					if err == nil && code == http.StatusAccepted && strings.Contains(body, "stored in 1 cast") {
						break
					}
					if attempt >= 20 {
						bad.Add(1)
						break
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	sent := time.Since(start)
	wrong, err := b.pollCasts(ctx, ns, 120*time.Second, lifecycleDone)
	took := time.Since(start)
	us := w.end()
	if err != nil {
		return fmt.Errorf("waiting for terminal casts: %w (%d wrong)", err, wrong)
	}
	st := fake.StatsFor(lifecycleToken)
	b.res.ctrl = append(b.res.ctrl, controllerResult{replicas: replicas, lifecycles: L, posts: int(seq.Load()), done: took, sent: sent,
		hooks: lat.summary(), retries: int(retries.Load()), failed: int(bad.Load()), counted: st.Counted, attachCounted: attached.Counted})
	// Both replicas' CPU, added up: with two, the standby stores half the
	// deliveries.
	proc := us[1]
	for _, u := range us[2:] {
		proc.OK, proc.CPU, proc.PeakRSS = proc.OK && u.OK, proc.CPU+u.CPU, max(proc.PeakRSS, u.PeakRSS)
	}
	design := fmt.Sprintf("webhooks, %d senders", b.cfg.senders)
	if replicas > 1 {
		design = fmt.Sprintf("webhooks spread over %d replicas, %d senders", replicas, b.cfg.senders)
	}
	b.res.add(row{scenario: "5. controller", design: design, clients: L,
		lat: lat.summary(), hasLat: true,
		throughput: fmt.Sprintf("%s webhooks/s", human(float64(seq.Load())/sent.Seconds())),
		proc:       proc, procName: fmt.Sprintf("controller ×%d", replicas), api: us[0],
		note: fmt.Sprintf("%d lifecycles (%d POSTs, %d retried, %d failed) all terminal and correct **%s** after the first POST; sending took %s; GitHub fake: %d counted calls (%.2f per lifecycle; %d of them while attaching; %s), %d primary-limited; latency = webhook response time, each 202 once the news is stored in the webhook journal",
			L, seq.Load(), retries.Load(), bad.Load(), took.Round(10*time.Millisecond), sent.Round(10*time.Millisecond),
			st.Counted, float64(st.Counted)/float64(L), attached.Counted, callsByEndpoint(fake, lifecycleToken), st.PrimaryLimited)})
	return nil
}

func post(hc *http.Client, url string, d delivery, n int64) (int, string, error) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderEvent, d.event)
	req.Header.Set(webhook.HeaderDelivery, fmt.Sprintf("bench-%d", n))
	req.Header.Set(webhook.HeaderSignature, webhook.Signature([]byte(benchSecret), d.body))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// lifecycleDone: the Cast reached the end of its lifecycle exactly as the
// webhooks said.
func lifecycleDone(c *castv1alpha1.Cast) bool {
	st := c.Status
	return st.Phase == castv1alpha1.PhaseSucceeded && st.Conclusion == "success" && st.Progress == 100 &&
		st.RunID == *c.Spec.RunID && st.FinishedAt != nil &&
		st.Concluded()
}

// pollCasts lists the controller namespace directly (no cache) until every
// Cast satisfies ok; it returns how many did not when it gave up.
func (b *bench) pollCasts(ctx context.Context, ns string, timeout time.Duration, ok func(*castv1alpha1.Cast) bool) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		var list castv1alpha1.CastList
		if err := b.cl.k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return 0, err
		}
		bad := 0
		for i := range list.Items {
			if !ok(&list.Items[i]) {
				bad++
			}
		}
		if bad == 0 && len(list.Items) >= b.cfg.lifecycles {
			return 0, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return bad, fmt.Errorf("%d of %d casts not there after %s", bad, len(list.Items), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
