// Command soak holds many streamer clients for minutes with churn and then
// checks that the streamer gives back what they cost: goroutines, file
// descriptors and live heap return to the baseline measured before the
// clients came, within a stated tolerance.
//
// It starts its own control plane (envtest, as the test suites do), builds
// the cast-operator binary and runs `cast-operator streamer` as a
// subprocess, which it measures from outside: file descriptors and RSS
// from /proc, goroutines and heap from the streamer's /metrics (the Go
// runtime collector controller-runtime registers). Churn is what real
// clients do: connect and disconnect at random, streams ending at
// --max-stream-duration as they do at token expiry, and tokens rotating
// (new ones minted, handed to the client through TokenFunc), while Casts
// change and come and go.
//
//	go run ./test/soak -clients 200 -minutes 2 -churn 15s
//
// It prints one PASS/FAIL line per resource and exits 1 on any FAIL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is the soak's knobs; flags map onto it one to one.
type config struct {
	clients        int
	duration       time.Duration
	churn          time.Duration
	streamDuration time.Duration
	rotate         time.Duration
	identities     int
	casts          int
	settle         time.Duration
	tol            tolerance
}

func defaults() config {
	return config{clients: 200, duration: 2 * time.Minute, churn: 15 * time.Second,
		streamDuration: 20 * time.Second, rotate: 30 * time.Second, identities: 4, casts: 20,
		settle: 3 * time.Minute, tol: defaultTolerance}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := defaults()
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	minutes := fs.Float64("minutes", c.duration.Minutes(), "how long the clients are held")
	fs.IntVar(&c.clients, "clients", c.clients, "concurrent streamer clients (Go client with resume)")
	fs.DurationVar(&c.churn, "churn", c.churn, "mean time a client stays before it disconnects and comes back (0: never)")
	fs.DurationVar(&c.streamDuration, "max-stream-duration", c.streamDuration, "the streamer's --max-stream-duration: streams end as on token expiry")
	fs.DurationVar(&c.rotate, "rotate", c.rotate, "mint new tokens this often (TokenRequest's minimum lifetime is 10 minutes)")
	fs.IntVar(&c.identities, "identities", c.identities, "ServiceAccounts the clients share")
	fs.IntVar(&c.casts, "casts", c.casts, "Casts changing during the soak")
	fs.DurationVar(&c.settle, "settle", c.settle, "how long resources may take to come back after the clients leave")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.duration = time.Duration(*minutes * float64(time.Minute))
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.clients < 1 || c.identities < 1 || c.casts < 1:
		return c, errors.New("-clients, -identities and -casts must be positive")
	case c.duration <= 0 || c.streamDuration <= 0 || c.rotate <= 0 || c.settle <= 0:
		return c, errors.New("-minutes, -max-stream-duration, -rotate and -settle must be positive")
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	res, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !res.passed() {
		os.Exit(1)
	}
}
