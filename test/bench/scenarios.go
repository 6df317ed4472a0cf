package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Designs compared in the delivery rows.
const (
	designStreamer = "streamer"
	designPeer     = "watch per client"
	designPeerMux  = "watch per client, HTTP/2-multiplexed"
	designFloor    = "floor: 1 watch"
)

// identitiesPerSet is how many ServiceAccounts each client population
// spreads over: a realistic number of distinct users, few enough that
// shared-token caching matters.
const identitiesPerSet = 100

// scenarios prepares the cluster and runs the selected scenarios in an
// order that keeps them apart: delivery, memory and stalls per size, then
// the storms, then (streamer stopped) the controller.
func (b *bench) scenarios(ctx context.Context) error {
	cfg := b.cfg
	b.progress("creating namespaces, ServiceAccounts, RBAC and %d Casts", cfg.casts)
	if err := b.cl.setup(ctx, cfg.namespaces); err != nil {
		return err
	}
	perNS := (cfg.casts + cfg.namespaces - 1) / cfg.namespaces
	refs, err := b.cl.createStreamCasts(ctx, cfg.namespaces, perNS)
	if err != nil {
		return fmt.Errorf("creating casts: %w", err)
	}
	b.writer = &writer{k8s: b.cl.k8s, casts: refs}
	if b.viewers, err = b.cl.identities(ctx, "viewer", identitiesPerSet, 1); err != nil {
		return err
	}
	if cfg.runs(scDelivery) {
		b.progress("floor: one client-go watch, %d writes/s for %s", cfg.writesPerSec, cfg.duration)
		if err := b.peer(ctx, 1, []streamSpec{nsStream(0, b.viewers[0])}, false); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}
	for i, C := range cfg.clients {
		b.progress("%d clients: connect, idle memory, delivery, stalls, watch per client", C)
		if err := b.clientsAt(ctx, C, i == 0); err != nil {
			return fmt.Errorf("%d clients: %w", C, err)
		}
	}
	if cfg.runs(scSaturation) {
		if err := b.saturation(ctx); err != nil {
			return fmt.Errorf("saturation: %w", err)
		}
	}
	if cfg.runs(scStorm) {
		if err := b.restartStreamer(); err != nil {
			return err
		}
		users := min(identitiesPerSet, cfg.stormClients)
		perSA := (cfg.stormClients + users - 1) / users
		b.progress("storm: minting %d distinct tokens", users*perSA)
		distinct, err := b.cl.identities(ctx, "storm-distinct", users, perSA)
		if err != nil {
			return err
		}
		b.progress("storm: %d clients at once, distinct tokens", cfg.stormClients)
		if err := b.storm(ctx, "distinct tokens", distinct, users); err != nil {
			return fmt.Errorf("storm: %w", err)
		}
		shared, err := b.cl.identities(ctx, "storm-shared", users, 1)
		if err != nil {
			return err
		}
		b.progress("storm: %d clients at once, %d shared tokens", cfg.stormClients, len(shared))
		if err := b.storm(ctx, "shared tokens", shared, users); err != nil {
			return fmt.Errorf("storm: %w", err)
		}
	}
	if cfg.runs(scScreen) {
		if err := b.screenScenario(ctx); err != nil {
			return fmt.Errorf("screen: %w", err)
		}
	}
	if b.streamer != nil {
		b.streamer.stop()
		b.streamer = nil
	}
	if cfg.runs(scController) {
		b.progress("controller: %d lifecycles, %d webhooks", cfg.lifecycles, 5*cfg.lifecycles)
		if err := b.controllerScenario(ctx); err != nil {
			return fmt.Errorf("controller: %w", err)
		}
	}
	if cfg.runs(scIdle) {
		b.progress("idle: %d attached Casts with no news, without and with a token", cfg.idle.casts)
		if err := b.idleScenario(ctx); err != nil {
			return fmt.Errorf("idle: %w", err)
		}
	}
	if cfg.runs(scGitHub) {
		if err := b.githubScenario(ctx); err != nil {
			return fmt.Errorf("github: %w", err)
		}
	}
	if cfg.runs(scMany) {
		if err := b.manyScenario(ctx); err != nil {
			return fmt.Errorf("many: %w", err)
		}
	}
	return nil
}

// restartStreamer stops the streamer, if running, and starts a new one.
func (b *bench) restartStreamer() error {
	if b.streamer != nil {
		b.streamer.stop()
		b.streamer = nil
	}
	return b.startStreamer()
}

func (b *bench) startStreamer() error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	metricsAddr, err := freePort()
	if err != nil {
		return err
	}
	args := []string{"streamer", "--kubeconfig", b.cl.kubeconfig, "--bind-address", addr,
		// Limits raised for the load: thousands of clients share 100 users.
		"--max-streams-per-user", "1000000", "--user-requests-per-minute", "6000000",
		"--max-stream-duration", "1h", "--write-timeout", b.cfg.writeTimeout.String(),
		"--metrics-bind-address", metricsAddr, "--metrics-secure=false", "--health-probe-bind-address", "0"}
	bin := b.bin
	if b.cfg.streamerBinary != "" {
		bin = b.cfg.streamerBinary
	}
	b.streamer, err = startChild(bin, filepath.Join(b.tmp, "streamer.log"), nil, args...)
	if err != nil {
		return err
	}
	b.streamAddr, b.streamMetricsAddr = addr, metricsAddr
	// For results.md: the command line without this run's temporary paths.
	shown := slices.Clone(args)
	for i := range shown {
		switch shown[i] {
		case b.cl.kubeconfig:
			shown[i] = "<envtest kubeconfig>"
		case addr, metricsAddr:
			shown[i] = "127.0.0.1:<port>"
		}
	}
	b.res.streamerArgs = shown
	// Minutes, not seconds: with 100,000 Casts the first list alone is long.
	return b.streamer.waitHTTP("http://"+addr+"/readyz", 5*time.Minute)
}

// key names a delivery result by design and size.
func key(design string, clients int) string { return design + "@" + strconv.Itoa(clients) }
