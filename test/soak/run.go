package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/test/faults"
)

// result is what a soak measured.
type result struct {
	baseline, peak, after faults.Resources
	verdicts              []verdict
	settled               time.Duration
	consistent, holding   int
	connects, gaveUp      int64
}

func (r *result) passed() bool {
	for _, v := range r.verdicts {
		if !v.ok() {
			return false
		}
	}
	return len(r.verdicts) > 0 && r.consistent == r.holding && r.gaveUp == 0
}

// run starts a control plane and a streamer, soaks it, and reports to out.
func run(ctx context.Context, cfg config, out io.Writer) (res *result, err error) {
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	say := func(format string, args ...any) { fmt.Fprintf(out, "soak: "+format+"\n", args...) }
	dir, err := os.MkdirTemp("", "cast-soak-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil && res.passed() {
			_ = os.RemoveAll(dir)
		} else {
			say("streamer log kept in %s", dir)
		}
	}()

	say("%d clients for %s, reconnecting every ~%s, streams end after %s, tokens rotate every %s",
		cfg.clients, cfg.duration, cfg.churn, cfg.streamDuration, cfg.rotate)
	env, err := localcluster.New("")
	if err != nil {
		return nil, err
	}
	restCfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()
	binary, err := faults.BuildBinary(ctx, dir)
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		return nil, err
	}
	k8s, err := client.New(restCfg, client.Options{Scheme: localcluster.Scheme()})
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	toks, err := newTokens(ctx, kube, cfg.identities)
	if err != nil {
		return nil, err
	}
	cs, err := newCasts(ctx, k8s, cfg.casts)
	if err != nil {
		return nil, err
	}

	addr, err := faults.FreeAddr()
	if err != nil {
		return nil, err
	}
	streamer, err := faults.StartStreamer(faults.StreamerConfig{Binary: binary, Kubeconfig: kubeconfig, Addr: addr,
		LogPath: filepath.Join(dir, "streamer.log"), Args: []string{
			"--max-stream-duration", cfg.streamDuration.String(), "--heartbeat-interval", "5s",
			"--max-streams-per-user", fmt.Sprint(cfg.clients + 10), "--user-requests-per-minute", "100000"}})
	if err != nil {
		return nil, err
	}
	defer func() { _ = streamer.Stop(20 * time.Second) }()
	server, metricsURL := "http://"+addr, streamer.MetricsURL
	res = &result{}

	// Warm-up: the first clients create what stays by design (caches,
	// metric series, pooled buffers); the baseline comes after them.
	if err := warmUp(ctx, server, toks, cfg); err != nil {
		return res, err
	}
	if res.baseline, err = quiesced(ctx, streamer.Pid(), metricsURL, 2, time.Minute); err != nil {
		return res, err
	}
	say("baseline  %s", res.baseline)
	res.peak = res.baseline

	soakCtx, stopSoak := context.WithCancel(ctx)
	defer stopSoak()
	go cs.drive(soakCtx, 250*time.Millisecond, 5*time.Second)
	go func() {
		t := time.NewTicker(cfg.rotate)
		defer t.Stop()
		for {
			select {
			case <-soakCtx.Done():
				return
			case <-t.C:
				_ = toks.rotate(soakCtx)
			}
		}
	}()
	fl, err := newFleet(server, toks, cfg.identities, cfg.churn)
	if err != nil {
		return res, err
	}
	fl.start(ctx, cfg.clients)
	defer fl.close()

	start := time.Now()
	for every := time.NewTicker(min(15*time.Second, cfg.duration/2)); time.Since(start) < cfg.duration; {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-every.C:
		case <-time.After(cfg.duration - time.Since(start)):
		}
		if r, err := faults.ReadResources(streamer.Pid(), metricsURL); err == nil {
			peak(&res.peak, r)
			m, _ := faults.Scrape(metricsURL)
			say("t=%-4s open_streams=%-4.0f %s", time.Since(start).Round(time.Second), m["cast_streamer_open_streams"], r)
		}
	}
	stopSoak()

	// Every slot holds one subscription again; each must now hold every
	// Cast's current state.
	holding := fl.stopChurn()
	res.holding = len(holding)
	want, err := cs.want(ctx)
	if err != nil {
		return res, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for res.consistent, _ = faults.Mismatches(holding, want, 0); res.consistent < res.holding && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		res.consistent, _ = faults.Mismatches(holding, want, 0)
	}
	fl.close()
	res.connects, res.gaveUp = fl.connects.Load(), fl.gaveUp.Load()

	res.after, res.verdicts, res.settled, err = settle(ctx, streamer.Pid(), metricsURL, res.baseline, cfg)
	if err != nil {
		return res, err
	}
	m, _ := faults.Scrape(metricsURL)
	say("peak      %s", res.peak)
	say("after     %s (%s after the clients left)", res.after, res.settled.Round(100*time.Millisecond))
	say("clients: %d subscriptions opened, %d events received, %d gave up; %d token rotations; %d status writes, %d Casts replaced",
		res.connects, fl.events.Load(), res.gaveUp, toks.rotations()-1, cs.writes, cs.deleted)
	say("streams closed by reason: %s", closedByReason(m))
	say("consistency: %d/%d clients hold every Cast's current state", res.consistent, res.holding)
	if _, diffs := faults.Mismatches(holding, want, 6); len(diffs) > 0 {
		say("first mismatches: %s", strings.Join(diffs, "; "))
	}
	for _, v := range res.verdicts {
		fmt.Fprintln(out, v)
	}
	if res.passed() {
		say("PASS")
	} else {
		say("FAIL")
	}
	return res, nil
}

// warmUp opens a few subscriptions for a few seconds and closes them.
func warmUp(ctx context.Context, server string, toks *tokens, cfg config) error {
	fl, err := newFleet(server, toks, cfg.identities, 0)
	if err != nil {
		return err
	}
	fl.start(ctx, min(cfg.clients, 2*cfg.identities))
	time.Sleep(3 * time.Second)
	fl.stopChurn()
	fl.close()
	time.Sleep(time.Second)
	return ctx.Err()
}

func closedByReason(m map[string]float64) string {
	var parts []string
	for k, v := range m {
		if r, ok := strings.CutPrefix(k, `cast_streamer_streams_closed_total{reason="`); ok && v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%.0f", strings.TrimSuffix(r, `"}`), v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
