// Command bench is the load harness behind `make bench`: it starts one
// envtest control plane (kube-apiserver + etcd from bin/k8s), runs the
// streamer and the controller as their own processes from
// bin/cast-operator, drives them over loopback HTTP with real
// ServiceAccount tokens, and prints a Markdown table of latency,
// throughput, CPU and memory with a PASS/FAIL row per goal. It writes the
// table to <out>/results.md and a latency chart to <out>/latency.svg.
//
// It exits non-zero only when the harness itself fails; a missed goal is a
// FAIL row, not an error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// Scenario names for -scenarios.
const (
	scDelivery   = "delivery"
	scMemory     = "memory"
	scStorm      = "storm"
	scStall      = "stall"
	scController = "controller"
	scGitHub     = "github"
	scScreen     = "screen"
	scIdle       = "idle"
	scMany       = "many"
	scSaturation = "saturation"
)

var allScenarios = []string{scDelivery, scMemory, scStorm, scStall, scSaturation, scScreen, scController, scIdle, scGitHub, scMany}

type config struct {
	clients           []int
	writesPerSec      int
	duration          time.Duration
	casts             int
	namespaces        int
	messageBytes      int
	lifecycles        int
	senders           int
	stallPercent      float64
	stallMessageBytes int
	stallRounds       int
	stormClients      int
	peerMax           int
	writeTimeout      time.Duration
	settle            time.Duration
	streamerBinary    string
	keepLogs          bool
	out               string
	smoke             bool
	scenarios         []string
	gh                githubConfig
	screen            screenConfig
	idle              idleConfig
	many              manyConfig
	sat               satConfig
}

func (c config) runs(s string) bool { return slices.Contains(c.scenarios, s) }

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	clients := fs.String("clients", "1000,10000", "comma-separated stream client counts (scenarios 1, 2, 4)")
	fs.IntVar(&c.writesPerSec, "writes-per-sec", 50, "Cast status writes per second in the delivery windows")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "length of each delivery window")
	fs.IntVar(&c.casts, "casts", 200, "Casts the writer cycles through, spread over -namespaces")
	fs.IntVar(&c.namespaces, "namespaces", 10, "namespaces; each client streams one, so a write reaches clients/namespaces of them")
	fs.IntVar(&c.messageBytes, "message-bytes", 256, "status.message size in the delivery windows")
	fs.IntVar(&c.lifecycles, "lifecycles", 1000, "Casts driven through a full webhook lifecycle (scenario 5)")
	fs.IntVar(&c.senders, "webhook-senders", 16, "concurrent webhook senders (scenario 5)")
	fs.Float64Var(&c.stallPercent, "stall-percent", 1, "percent of clients that stop reading (scenario 4, at the first -clients size)")
	fs.IntVar(&c.stallMessageBytes, "stall-message-bytes", 16384, "status.message size in the slow-consumer windows, so stalled sockets fill within the run")
	fs.IntVar(&c.stallRounds, "stall-rounds", 3, "pairs of windows (none stalled, then stalled) in the slow-consumer scenario")
	fs.IntVar(&c.stormClients, "storm-clients", 10000, "clients connecting at once in the connection storm (scenario 3)")
	fs.IntVar(&c.peerMax, "peer-max-clients", 10000, "largest -clients size also measured with one client-go watch per client")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 10*time.Second, "the streamer's --write-timeout (slow consumer detection)")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "idle time before memory readings")
	fs.StringVar(&c.streamerBinary, "streamer-binary", "", "run the streamer from this binary instead of bin/cast-operator (A/B comparisons, profiling builds)")
	fs.BoolVar(&c.keepLogs, "keep-logs", false, "keep the temporary folder with the streamer's and controller's logs")
	fs.StringVar(&c.out, "out", "docs/bench", "results folder (results.md, latency.svg); relative to the checkout")
	fs.BoolVar(&c.smoke, "smoke", false, "tiny sizes, under a minute: checks the harness, not the goals")
	c.gh.bind(fs)
	c.screen.bind(fs)
	c.idle.bind(fs)
	c.many.bind(fs)
	c.sat.bind(fs)
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "subset of "+strings.Join(allScenarios, ","))
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.smoke {
		smoke := map[string]func(){
			"clients": func() { *clients = "20,60" }, "writes-per-sec": func() { c.writesPerSec = 20 },
			"duration": func() { c.duration = 2 * time.Second }, "casts": func() { c.casts = 20 },
			"namespaces": func() { c.namespaces = 2 }, "lifecycles": func() { c.lifecycles = 20 },
			"storm-clients": func() { c.stormClients = 40 }, "stall-percent": func() { c.stallPercent = 5 },
			"write-timeout": func() { c.writeTimeout = time.Second }, "webhook-senders": func() { c.senders = 4 },
			"stall-message-bytes": func() { c.stallMessageBytes = 128 << 10 }, "settle": func() { c.settle = 500 * time.Millisecond },
			"stall-rounds": func() { c.stallRounds = 1 },
		}
		maps.Copy(smoke, c.gh.smoke())
		maps.Copy(smoke, c.screen.smoke())
		maps.Copy(smoke, c.idle.smoke())
		maps.Copy(smoke, c.many.smoke())
		maps.Copy(smoke, c.sat.smoke())
		for name, apply := range smoke {
			if !set[name] {
				apply()
			}
		}
	}
	for _, s := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return c, fmt.Errorf("-clients: %q is not a positive number", s)
		}
		c.clients = append(c.clients, n)
	}
	for _, s := range strings.Split(*scen, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return c, fmt.Errorf("-scenarios: unknown %q (want some of %s)", s, strings.Join(allScenarios, ","))
		}
		c.scenarios = append(c.scenarios, s)
	}
	switch {
	case c.writesPerSec <= 0 || c.duration <= 0 || c.casts < c.namespaces || c.namespaces <= 0:
		return c, errors.New("-writes-per-sec, -duration and -namespaces must be positive and -casts at least -namespaces")
	case c.lifecycles <= 0 || c.stormClients <= 0 || c.senders <= 0 || c.stallRounds <= 0:
		return c, errors.New("-lifecycles, -storm-clients, -webhook-senders and -stall-rounds must be positive")
	}
	if err := c.gh.validate(); err != nil {
		return c, err
	}
	if err := c.screen.validate(); err != nil {
		return c, err
	}
	if err := c.idle.validate(); err != nil {
		return c, err
	}
	if err := c.many.validate(); err != nil {
		return c, err
	}
	if err := c.sat.validate(); err != nil {
		return c, err
	}
	return c, nil
}

func main() {
	if isFloorServer(os.Args[1:]) {
		if err := floorMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	// The harness's own controller-runtime clients have nothing to log;
	// without a logger, controller-runtime prints a stack trace saying so.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// bench holds what every scenario shares.
type bench struct {
	cfg        config
	root, tmp  string
	bin        string
	cl         *cluster
	streamer   *child
	streamAddr string
	writer     *writer
	viewers    []string // tokens of the delivery clients' ServiceAccounts
	res        *results
	log        io.Writer

	// streamMetricsAddr is the streamer's /metrics, plain HTTP on
	// loopback: its public port (streamAddr) does not serve it.
	streamMetricsAddr string
}

func (b *bench) metricsURL() string { return "http://" + b.streamMetricsAddr + "/metrics" }

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// run is the whole harness; TestSmoke calls it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(cfg.out) {
		cfg.out = filepath.Join(root, cfg.out)
	}
	tmp, err := os.MkdirTemp("", "cast-bench-")
	if err != nil {
		return err
	}
	if cfg.keepLogs {
		fmt.Fprintf(stderr, "bench: logs in %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	b := &bench{cfg: cfg, root: root, tmp: tmp, log: stderr, res: newResults(cfg)}
	started := time.Now()

	if _, err := raiseFileLimit(); err != nil {
		return fmt.Errorf("raising the open-files limit: %w", err)
	}
	b.progress("building bin/cast-operator")
	if b.bin, err = buildBinary(ctx, root); err != nil {
		return err
	}
	b.progress("starting the envtest control plane")
	if b.cl, err = startCluster(tmp); err != nil {
		return err
	}
	defer func() {
		if err := b.cl.stop(); err != nil {
			b.progress("stopping the control plane: %v", err)
		}
	}()
	if err := b.scenarios(ctx); err != nil {
		if b.streamer != nil {
			b.streamer.stop()
		}
		return err
	}
	b.res.elapsed = time.Since(started)
	b.res.evaluate()
	md := b.res.markdown()
	fmt.Fprint(stdout, md)
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.out, "results.md"), []byte(b.res.document(md)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.out, "latency.svg"), []byte(b.res.svg()), 0o644); err != nil {
		return err
	}
	b.progress("done in %s; wrote %s", b.res.elapsed.Round(time.Second), cfg.out)
	return nil
}
