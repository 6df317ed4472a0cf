package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Timeouts for the webhook server. Unlike the streamer, every exchange is
// short: GitHub posts one payload and waits at most 10s for the answer, so
// all four timeouts apply and slow or idle clients cannot hold connections.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second // a 25 MiB body on a slow link
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	defaultShutdown   = 10 * time.Second
)

// NeedLeaderElection is false: GitHub posts to whichever replica the
// Service picks, so every replica must accept webhooks.
func (r *Receiver) NeedLeaderElection() bool { return false }

// Start listens on BindAddress and serves until ctx ends, so the manager
// owns the receiver's lifetime.
func (r *Receiver) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", r.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("webhook receiver listening on %s: %w", r.opts.BindAddress, err)
	}
	return r.Serve(ctx, ln)
}

// Serve serves Path on ln until ctx ends; it takes a listener so tests can
// use a loopback port. Other paths get the mux's 404.
func (r *Receiver) Serve(ctx context.Context, ln net.Listener) error {
	log := logf.FromContext(ctx).WithName("webhook")
	mux := http.NewServeMux()
	mux.Handle(r.opts.Path, r)

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Requests keep ctx's logger but not its cancellation: a delivery
		// in flight at shutdown should finish, not fail halfway.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	log.Info("webhook receiver listening", "address", ln.Addr().String(), "path", r.opts.Path)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		// Serve returns before Shutdown only when the listener failed.
		return fmt.Errorf("webhook receiver serving: %w", err)
	case <-ctx.Done():
	}

	// ctx is done, so detach from it to give open requests ShutdownTimeout.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Info("webhook receiver shutdown incomplete", "error", err.Error())
		_ = srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhook receiver serving: %w", err)
	}
	return nil
}
